"""Files other programs read: CSVs opened by a spreadsheet (LibreOffice, headless) and vCards as the RFC folds them."""
from __future__ import annotations

import io
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from relbuild.extensions import db
from relbuild.models import Event, User
from relbuild.services.events import join_event
from relbuild.services.export import name_parts
from tests.perception import need
from tests.test_account import signed_in, write_note
from tests.test_events import event_id, organizer  # noqa: F401  (fixtures)

SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def spreadsheet_rows(files: dict[str, bytes]) -> dict[str, list[list[str]]]:
    """Each CSV as LibreOffice opens it (UTF-8, comma-separated) and saves it as .xlsx: its rows of cell texts.

    A cell LibreOffice took as a formula shows as '=' + the formula, so a defused cell is told apart."""
    soffice = need("soffice", "libreoffice-calc-nogui")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name, data in files.items():
            (work / name).write_bytes(data)
        subprocess.run([soffice, f"-env:UserInstallation=file://{work}/profile", "--headless",
                        "--infilter=CSV:44,34,76", "--convert-to", "xlsx", "--outdir", str(work / "out"),
                        *(str(work / name) for name in files)], check=True, capture_output=True, timeout=180)
        sheets = {}
        for name in files:
            book = zipfile.ZipFile(work / "out" / f"{Path(name).stem}.xlsx")
            shared = [
                "".join(t.text or "" for t in si.iter(f"{SHEET}t"))
                for si in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).iter(f"{SHEET}si")]
            rows = []
            for row in ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml")).iter(f"{SHEET}row"):
                cells = {}
                for cell in row.iter(f"{SHEET}c"):  # empty cells are left out: place each by its column letter
                    formula, value = cell.find(f"{SHEET}f"), cell.find(f"{SHEET}v")
                    text = shared[int(value.text)] if cell.get("t") == "s" else (value.text if value is not None else "")
                    cells[ord(cell.get("r")[0]) - ord("A")] = "=" + formula.text if formula is not None else text
                rows.append([cells.get(column, "") for column in range(max(cells) + 1)] if cells else [])
            sheets[name] = rows
    return sheets


def test_csv_files_open_in_a_spreadsheet_with_every_name_intact(app, client, event_id, make_user, login):  # noqa: F811
    me = make_user(name="Zoë Łukasiewicz-Ødegård")
    people = [me, make_user(name="王小明"), make_user(name='=HYPERLINK("http://evil.example","Click")'),
              make_user(name="Émile Gaudé", share_email=True, headline="Étudiant, génie; « électrique »")]
    with app.app_context():
        for person in people:
            join_event(db.session.get(User, person.id), db.session.get(Event, event_id))
    write_note(app, me, people[3], body="Émile: tide-powered lamps, a workshop in Gdańsk.", offer="Send the address")
    attendees = client.get(f"/events/{event_id}/attendees.csv")
    assert attendees.headers["Content-Type"] == "text/csv; charset=utf-8"
    export = zipfile.ZipFile(io.BytesIO(signed_in(app, login, me).get("/account/export.zip").data))
    files = {"attendees.csv": attendees.data, "people.csv": export.read("people.csv")}
    # Excel on Windows reads a CSV as UTF-8 only when it starts with the byte order mark.
    assert all(data.startswith(b"\xef\xbb\xbf") for data in files.values())
    sheets = spreadsheet_rows(files)

    listed = sheets["attendees.csv"]
    assert listed[0] == ["name", "email", "joined"]  # the BOM is not part of the first cell
    names = [row[0] for row in listed[1:]]
    assert {"Zoë Łukasiewicz-Ødegård", "王小明", "Émile Gaudé"} <= set(names)
    assert '\'=HYPERLINK("http://evil.example","Click")' in names  # shown as text, never run as a formula
    assert not any(cell.startswith("=") for row in listed for cell in row)

    met = sheets["people.csv"]
    assert met[0][:3] == ["name", "headline", "email"]
    assert met[1][:2] == ["Émile Gaudé", "Étudiant, génie; « électrique »"]
    assert "Gdańsk" in met[1][5]


def test_vcards_fold_at_75_octets_and_split_the_name(app, make_user, login):
    me = make_user(name="Mina Export")
    friend = make_user(name="Ana María Ruiz", email="ana@example.com", share_email=True,
                       headline="Ingeniera de caminos, canales y puertos — Universidad Politécnica de Madrid")
    note = ("Ana diseña puentes peatonales de madera laminada; habló de un concurso en Zaragoza y de cómo "
            "conseguir prácticas en un estudio pequeño. Le interesa la acústica de los espacios públicos.")
    write_note(app, me, friend, body=note, offer="Presentarle a Lucía, que trabaja en Arup Madrid")
    archive = zipfile.ZipFile(io.BytesIO(signed_in(app, login, me).get("/account/export.zip").data))
    raw = archive.read("contacts/Ana-María-Ruiz.vcf")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75, [len(line) for line in lines]
    assert any(line.startswith(b" ") for line in lines)  # long lines were folded, not cut
    card = raw.decode("utf-8").replace("\r\n ", "")  # unfolding, as RFC 6350 says readers do
    assert "\nN:Ruiz;Ana María;;;\r" in card and "\nFN:Ana María Ruiz\r" in card
    unescaped = re.search(r"\nNOTE:(.*)\r", card).group(1).replace("\\n", "\n").replace("\\,", ",").replace("\\;", ";")
    assert unescaped == note + "\n\nI offered: Presentarle a Lucía, que trabaja en Arup Madrid"


def test_name_parts_for_vcards():
    assert name_parts("Ana María Ruiz") == ("Ruiz", "Ana María")
    assert name_parts("Jan van der Berg") == ("van der Berg", "Jan")
    assert name_parts("山田 太郎") == ("山田", "太郎")
    assert name_parts("김 민준") == ("김", "민준")
    assert name_parts("Zoë") == ("Zoë", "")
