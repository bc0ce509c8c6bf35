"""One-off: fill a catalog from a dict of translations (msgid or (singular, plural) -> text or [forms])."""
import sys
from babel.messages.pofile import read_po, write_po

path, *sources = sys.argv[1:]
table = {}
for source in sources:
    scope = {}
    exec(open(source, encoding="utf-8").read(), scope)
    for value in scope.values():
        if isinstance(value, dict):
            table.update(value)
with open(path, "rb") as handle:
    catalog = read_po(handle)
missing = []
for message in catalog:
    if not message.id:
        continue
    text = table.get(message.id)
    if text is None:
        missing.append(message.id)
        continue
    if isinstance(message.id, tuple):
        forms = list(text)
        while len(forms) < catalog.num_plurals:  # CLDR French: one, many (a million…), other
            forms.insert(-1, forms[-1])
        message.string = tuple(forms)
    else:
        message.string = text
    message.flags.discard("fuzzy")
with open(path, "wb") as handle:
    write_po(handle, catalog, width=0)
print("missing:", len(missing))
for m in missing:
    print(repr(m))
