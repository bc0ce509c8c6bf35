"""One-off helper: wrap the visible English of Jinja HTML templates in gettext calls / {% trans %} blocks.

Run on a template that has none yet (`python scripts/i18n_wrap.py FILE...`); review the result by eye.
"""
import re
import sys

TOKEN = re.compile(r"({%-?.*?-?%}|{#.*?#}|{{-?.*?-?}}|<!--.*?-->|<[A-Za-z/!][^<>]*?(?:{{.*?}}[^<>]*?|{%.*?%}[^<>]*?)*>)",
                   re.S)
INLINE = {"a", "strong", "em", "time", "span", "code", "br", "abbr", "b", "i", "small", "bdi"}
ATTRS = re.compile(r'\b(aria-label|alt|placeholder|title)="([^"{}]*[A-Za-z]{2}[^"{}]*)"')
ARGS = re.compile(r'\b(hint|placeholder)="([^"]*[A-Za-z]{2}[^"]*)"')
WORD = re.compile(r"[A-Za-z]{2}")


def name_for(expr, used):
    expr = expr.strip()
    head = expr.split("|")[0]
    ids = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r"\(.*", "", head))
    if "|isotime" in expr:
        ids = ["iso"]
    base = ids[-1] if ids else "value"
    if base in ("url_for", "get", "split"):
        base = "url" if "url" in expr else "value"
    if expr.startswith("url_for"):
        base = "url"
    base = base.lower()
    n, i = base, 2
    while n in used and used[n] != expr:
        n, i = f"{base}{i}", i + 1
    used[n] = expr
    return n


def tag_name(tok):
    m = re.match(r"</?([A-Za-z0-9]+)", tok)
    return m.group(1).lower() if m else None


def is_open(kind, t):
    return kind == "tag" and not t.startswith("</") and tag_name(t) != "br" and not t.endswith("/>")


def is_close(kind, t):
    return kind == "tag" and t.startswith("</")


def match_index(run, i):
    depth = 0
    for j in range(i, len(run)):
        kind, t = run[j]
        if is_open(kind, t):
            depth += 1
        elif is_close(kind, t):
            depth -= 1
            if depth == 0:
                return j
    return None


def split_run(run):
    """Cut at whitespace between whole elements at the top level; peel unbalanced or wrapping tags."""
    pieces, current, depth = [], [], 0
    for kind, t in run:
        if kind == "text" and not t.strip() and depth == 0 and current and current[-1][0] == "tag":
            pieces.append(current)
            pieces.append([("text", t)])
            current = []
            continue
        current.append((kind, t))
        if is_open(kind, t):
            depth += 1
        elif is_close(kind, t):
            depth = max(0, depth - 1)
    pieces.append(current)
    out = []
    for piece in pieces:
        before, after = [], []
        while piece:
            kind, t = piece[0]
            if kind == "text" and not t.strip():
                before.append(piece.pop(0)); continue
            if kind == "tag" and (is_close(kind, t) or tag_name(t) == "br"):
                before.append(piece.pop(0)); continue
            if is_open(kind, t):
                j = match_index(piece, 0)
                if j is None:
                    before.append(piece.pop(0)); continue
                if j == len(piece) - 1 or all(k == "text" and not x.strip() for k, x in piece[j + 1:]):
                    tail = piece[j:]
                    after = tail + after
                    before.append(piece.pop(0))
                    piece = piece[: j - 1]
                    continue
            break
        while piece:
            kind, t = piece[-1]
            if (kind == "text" and not t.strip()) or is_open(kind, t) and match_index(piece, len(piece) - 1) is None:
                after.insert(0, piece.pop()); continue
            if is_close(kind, t):
                # a close whose open is not in the piece
                opens = sum(1 for k, x in piece if is_open(k, x)); closes = sum(1 for k, x in piece if is_close(k, x))
                if closes > opens:
                    after.insert(0, piece.pop()); continue
            break
        out.append((before, piece, after))
    return out


def convert_run(run):
    result = []
    for before, piece, after in split_run(run):
        result.append("".join(t for _, t in before))
        result.append(convert_piece(piece) if piece else "")
        result.append("".join(t for _, t in after))
    return "".join(result)


def convert_piece(run):
    text = "".join(t for kind, t in run if kind == "text")
    if not WORD.search(text):
        return "".join(t for _, t in run)
    # keep surrounding whitespace outside
    raw = "".join(t for _, t in run)
    lead = raw[: len(raw) - len(raw.lstrip())]
    trail = raw[len(raw.rstrip()):]
    if all(kind == "text" for kind, _ in run):
        msg = " ".join(raw.split())
        return f'{lead}{{{{ _("{msg}") }}}}' .replace('\\"', '"') .replace('_("' + msg, '_("' + msg.replace('"', '\\"')) + trail
    used = {}
    out = []
    for kind, t in run:
        if kind == "expr":
            inner = re.sub(r"^{{-?|-?}}$", "", t).strip()
            out.append("{{ " + name_for(inner, used) + " }}")
        elif kind == "tag":
            out.append(re.sub(r"{{-?(.*?)-?}}", lambda m: "{{ " + name_for(m.group(1), used) + " }}", t))
        else:
            out.append(t.replace("%", "%%") if False else t)
    body = " ".join("".join(out).split())
    args = ", ".join(f"{n}={e}" for n, e in used.items())
    return f"{lead}{{% trans {args} %}}{body}{{% endtrans %}}{trail}".replace("{% trans  %}", "{% trans %}")


def convert(source):
    tokens = [t for t in TOKEN.split(source) if t]
    out, run = [], []
    skip = 0

    def flush():
        if run:
            out.append(convert_run(run))
            run.clear()

    for t in tokens:
        if t.startswith("{%"):
            flush()
            if re.match(r"{%-?\s*block\s+style", t):
                skip += 1
            elif skip and re.match(r"{%-?\s*endblock", t):
                skip -= 1
            if ARGS.search(t) and not skip:
                t = ARGS.sub(lambda m: f'{m.group(1)}=_("{m.group(2)}")', t)
            out.append(t)
        elif t.startswith("{{"):
            if ARGS.search(t):
                t = ARGS.sub(lambda m: f'{m.group(1)}=_("{m.group(2)}")', t)
            if skip:
                out.append(t)
            else:
                run.append(("expr", t))
        elif t.startswith("{#") or t.startswith("<!"):
            flush()
            out.append(t)
        elif t.startswith("<"):
            name = tag_name(t)
            t = ATTRS.sub(lambda m: f'{m.group(1)}="{{{{ _("{m.group(2)}") }}}}"', t)
            if name in ("style", "script"):
                flush()
                skip += 0 if t.startswith("</") or t.endswith("/>") else 1
                if t.startswith("</"):
                    skip -= 1
                out.append(t)
            elif name in INLINE and not skip:
                run.append(("tag", t))
            else:
                flush()
                out.append(t)
        else:
            if skip:
                out.append(t)
            else:
                run.append(("text", t))
    flush()
    return "".join(out)


def tidy(run_out):
    return run_out


if __name__ == "__main__":
    for path in sys.argv[1:]:
        src = open(path, encoding="utf-8").read()
        open(path, "w", encoding="utf-8").write(convert(src))
