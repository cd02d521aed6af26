"""How long a visitor waits on this host at the page's defaults: to the first preview, and to the result.

``python -m demo.first_picture`` (``STYLECORE_WEIGHTS=random`` where there are no
weights; ``--size``/``--iterations`` to try other defaults). It runs the app's own
path (settings table → :func:`demo.service.stream`) on a bundled example, timing from
the moment Run's checked request starts, as the visitor's clock does. A report, not a
test: timings belong to the machine (docs/app.md, *Timings*, has a 2-core host's).
"""

from __future__ import annotations

import argparse
import time

from stylecore import load_image, vgg19_extractor

from . import hosting, service, settings
from .models import APP_LAYERS, Models
from .uploads import EXAMPLES


def measure(size: int | None = None, iterations: int | None = None) -> dict[str, float]:
    """Seconds to the first preview and to the finished run at this host's defaults (or the given ones)."""
    hardware = hosting.detect()
    table = settings.table(hardware)
    values = settings.defaults(table) | {k: v for k, v in (("size", size), ("iterations", iterations)) if v}
    config = settings.check(table, values, hardware, two_styles=False).config
    models = Models(vgg19_extractor(layers=APP_LAYERS), None)
    photo = load_image(EXAMPLES / "chelsea.jpg", config.size)
    style = load_image(EXAMPLES / "strokes.png", config.size)
    start = time.perf_counter()
    first, previews = None, 0
    for update in service.stream(models, photo, [style], config):
        if update.preview is not None:
            first = first if first is not None else time.perf_counter() - start
            previews += 1
    total = time.perf_counter() - start
    return {"size": config.size, "iterations": config.iterations, "first_preview_s": first or total,
            "finished_s": total, "previews": previews}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int)
    parser.add_argument("--iterations", type=int)
    args = parser.parse_args(argv)
    got = measure(args.size, args.iterations)
    print(
        f"{hosting.detect().kind} host, {got['iterations']:g} steps at {got['size']:g} px: first preview after "
        f"{got['first_preview_s']:.1f} s, finished after {got['finished_s']:.1f} s ({got['previews']:g} previews)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
