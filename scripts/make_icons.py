"""Draw Relbuild's app icons with Pillow (run once; the PNGs are committed).

    .venv/bin/python scripts/make_icons.py
"""
from pathlib import Path

from PIL import Image, ImageDraw

ACCENT = (154, 63, 28)
OUT = Path(__file__).resolve().parent.parent / "relbuild" / "static" / "icons"


def draw(size: int, *, maskable: bool = False, rounded: bool = True) -> Image.Image:
    """A white 'R' drawn as a stroke on the accent colour; maskable icons keep it in the safe zone."""
    scale = 4  # draw large, shrink down for smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable or not rounded:
        pen.rectangle((0, 0, big, big), fill=ACCENT)
    else:
        pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=ACCENT)
    inset = 0.2 if maskable else 0.0  # maskable: the glyph stays inside the central 60%
    unit = big * (1 - 2 * inset) / 64

    def p(x, y):
        return (big * inset + x * unit, big * inset + y * unit)

    width = int(5.5 * unit)
    white = (255, 255, 255, 255)
    pen.line([p(20, 48), p(20, 16), p(33, 16)], fill=white, width=width, joint="curve")
    half = 2.75  # PIL draws arc strokes inside the box: grow it so the stroke is centred like the lines
    pen.arc([p(24 - half, 16 - half), p(42 + half, 34 + half)], start=-90, end=90, fill=white, width=width)
    pen.line([p(33, 34), p(20, 34)], fill=white, width=width)
    pen.line([p(31, 34), p(44, 48)], fill=white, width=width)
    for x, y in ((20, 48), (20, 16), (44, 48)):
        r = width / 2
        cx, cy = p(x, y)
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=white)
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    draw(192).save(OUT / "icon-192.png", optimize=True)
    draw(512).save(OUT / "icon-512.png", optimize=True)
    draw(512, maskable=True).save(OUT / "maskable-512.png", optimize=True)
    draw(180, rounded=False).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
