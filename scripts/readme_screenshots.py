"""The README's screenshots (docs/img/*.png), taken in headless Chromium on the demos.

    python scripts/readme_screenshots.py --out docs/img

Starts ``sslabel app`` on a fresh data directory, gives a few true labels through the
store (30 digits, 6 moons points, 40 digits for the grid) and saves a 1280x800 view of
the Label page (digits), the Map page (moons) and the Grid page (digits, one tile left
out). ``--hover`` also saves the digits map with a point's hover box open.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from helpers import CHROMIUM, CHROMIUM_FLAGS, IDLE, start_studio, stop_studio  # noqa: E402

from sslcore.demos import DEMO_PREFIX, create_demo_project, load_demo  # noqa: E402
from sslcore.store import Store  # noqa: E402


def give_true_labels(store: Store, name: str, demo: str, n: int) -> None:
    project = store.open_project(name)
    truth = load_demo(demo).items.set_index("item_id")["label"]
    project.label_many([(i, truth[i]) for i in truth.index[:n]], annotator="setup")


def settle(page) -> None:
    page.wait_for_timeout(500)
    page.wait_for_function(IDLE, timeout=120_000)
    page.wait_for_timeout(800)  # plotly's and the images' last paint


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--hover", action="store_true", help="also the digits map's hover")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp())
    process, url = start_studio(data_dir)
    try:
        store = Store(data_dir)
        give_true_labels(store, DEMO_PREFIX + "digits", "digits", 30)
        give_true_labels(store, DEMO_PREFIX + "moons", "moons", 6)
        grid = create_demo_project(store, "digits", "Digits (grid)")
        give_true_labels(store, grid.name, "digits", 40)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            who = "&annotator=ana"
            page.goto(f"{url}/?project={quote(DEMO_PREFIX + 'digits')}{who}")
            page.locator(".st-key-label-item").get_by_role("button", name="Skip").wait_for(
                timeout=120_000
            )
            settle(page)
            page.screenshot(path=args.out / "label.png")
            page.goto(f"{url}/map?project={quote(DEMO_PREFIX + 'moons')}{who}")
            page.locator(".js-plotly-plot .nsewdrag").first.wait_for(timeout=120_000)
            settle(page)
            page.screenshot(path=args.out / "map.png")
            page.goto(f"{url}/grid?project={quote(grid.name)}{who}")
            page.get_by_text("items the model is most sure are").first.wait_for(timeout=120_000)
            settle(page)
            page.locator("h1").first.click()  # keys go to the page
            page.keyboard.press("a")  # the first tile's key: leave it out
            page.get_by_role("button", name="Put back").wait_for(timeout=60_000)
            page.evaluate("document.activeElement.blur()")  # no focus ring round the page
            page.mouse.move(5, 795)
            settle(page)
            page.screenshot(path=args.out / "grid.png")
            if args.hover:
                page.goto(f"{url}/map?project={quote(DEMO_PREFIX + 'digits')}{who}")
                plot = page.locator(".js-plotly-plot .nsewdrag").first
                plot.wait_for(timeout=300_000)
                plot.scroll_into_view_if_needed()
                settle(page)
                point = page.evaluate(
                    """() => { const plot = document.querySelector('.js-plotly-plot');
                    const t = plot._fullData[0], xa = plot._fullLayout.xaxis,
                          ya = plot._fullLayout.yaxis, box = plot.getBoundingClientRect();
                    const at = (i) => [box.left + xa._offset + xa.l2p(t.x[i]),
                                       box.top + ya._offset + ya.l2p(t.y[i])];
                    for (let i = 0; i < t.x.length; i++) {
                      const [x, y] = at(i);
                      if (y > 100 && y < window.innerHeight - 250) return [x, y];
                    }
                    return at(0); }"""
                )
                page.mouse.move(*point)
                page.wait_for_timeout(1000)
                page.screenshot(path=args.out / "map-hover-digits.png")
            browser.close()
    finally:
        stop_studio(process)


if __name__ == "__main__":
    main()
