"""What a person waits for in the studio, measured in headless Chromium (Playwright).

    python scripts/bench_browser.py --sms ../shared/datasets/sms_spam.tsv --keys 20 --switches 4

Starts ``sslabel app`` on a free port with a fresh data directory and measures, from
the browser's side:

- key -> next item: the true class's key pressed on the Label page, until the next
  item's caption and its class buttons are drawn (and its image loaded); on the
  digits demo (the baseline) and on the SMS project;
- page switch: a click on Label, Review suggestions or Map in the sidebar, until the
  page's title and main element are drawn and its run has ended (digits);
- a new 5k text project: from the Import click on the Projects page to the first item
  with its class buttons on the Label page, and to the model taking over.

Each key press waits for the previous run to end (as a person reading the item would).
Prints one JSON object: medians and maxima in seconds, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from helpers import CHROMIUM, CHROMIUM_FLAGS, IDLE, sign_in, start_studio, stop_studio  # noqa: E402

from sslcore.demos import load_demo  # noqa: E402
from sslcore.keys import class_keys
from sslcore.loaders import load_file
from sslcore.store import Store

# The next item is shown: a new caption, its own class buttons, its image loaded.
NEXT_ITEM = """([old, prefix]) => {
  const area = document.querySelector('.st-key-label-item');
  const caption = area && area.querySelector('[data-testid="stCaptionContainer"]');
  if (!caption || caption.innerText === old) return false;
  const mine = prefix + caption.innerText.replace(/^Item /, '') + '-';
  const buttons = [...area.querySelectorAll('[class*="st-key-label-"]')]
    .some((el) => [...el.classList].some((c) => c.startsWith(mine)));
  const images = [...area.querySelectorAll('img')];
  return buttons && images.every((img) => img.complete && img.naturalWidth > 0);
}"""


def idle(page) -> None:
    page.wait_for_timeout(200)
    page.wait_for_function(IDLE, timeout=600_000)


def key_waits(page, project, truth: dict, presses: int) -> list[float]:
    keys = dict(zip(project.class_names(), class_keys(project), strict=True))
    area = page.locator(".st-key-label-item")
    waits = []
    for _ in range(presses):
        area.locator("[data-testid=stCaptionContainer]").first.wait_for(timeout=600_000)
        idle(page)
        caption = area.locator("[data-testid=stCaptionContainer]").first.inner_text()
        key = keys[truth[caption.removeprefix("Item ")]]
        started = time.perf_counter()
        page.keyboard.press(key)
        page.wait_for_function(
            NEXT_ITEM, arg=[caption, f"st-key-label-{project.id}-"], polling="raf",
            timeout=600_000,
        )  # fmt: skip
        waits.append(time.perf_counter() - started)
    return waits


def switch_waits(page, rounds: int) -> list[float]:
    targets = [
        ("Review suggestions", "Review suggestions ·", "button:has-text('Accept')"),
        ("Map", "Map ·", ".js-plotly-plot"),
        ("Label", "Label ·", ".st-key-label-item button"),
    ]
    waits = []
    for _ in range(rounds):
        for link, title, element in targets:
            idle(page)
            started = time.perf_counter()
            page.get_by_role("link", name=link).click()
            page.locator("h1", has_text=title).first.wait_for(timeout=600_000)
            page.locator(element).first.wait_for(timeout=600_000)
            idle(page)
            waits.append(time.perf_counter() - started)
    return waits


def new_text_project(page, url: str, sms: Path) -> tuple[float, float]:
    page.goto(f"{url}/projects?annotator=bench")  # a new page load: the name comes from the URL
    page.get_by_role("tab", name="From a file").click()
    page.locator("input[type=file]").set_input_files(str(sms))
    labels = page.get_by_role("combobox", name="Existing labels (blank = unlabeled)")
    labels.wait_for(timeout=600_000)
    labels.click()
    labels.fill("(none)")
    page.get_by_role("option", name="(none)", exact=True).click()
    page.get_by_role("textbox", name="Classes, one per line").fill("ham\nspam")
    started = time.perf_counter()
    page.get_by_role("button", name="Import").click()
    page.get_by_text("Created project").wait_for(timeout=600_000)
    page.get_by_role("link", name="Label").click()
    page.locator(".st-key-label-item button", has_text="spam").wait_for(timeout=600_000)
    first_item = time.perf_counter() - started
    # The model is ready when the progress bar is gone (the item on screen stays until labeled).
    page.wait_for_function(
        """() => document.querySelector('.st-key-label-item') &&
                 !document.body.innerText.includes('Preparing the model:')""",
        timeout=900_000,
    )
    return first_item, time.perf_counter() - started


def summary(waits: list[float]) -> dict:
    return {"n": len(waits), "median_s": round(median(waits), 3), "max_s": round(max(waits), 3),
            "each_s": [round(w, 2) for w in waits]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sms", type=Path, help="the SMS spam file (Label<TAB>SMS)")
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--switches", type=int, default=4, help="rounds of 3 page switches")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp())
    process, url = start_studio(data_dir)
    result: dict = {"load_before": os.getloadavg()[0]}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(url)
            sign_in(page, "bench")
            store = Store(data_dir)
            digits = store.open_project("Demo: digits")
            truth = load_demo("digits").items.set_index("item_id")["label"].to_dict()
            page.locator(".st-key-label-item button").first.wait_for(timeout=600_000)
            result["key_to_next_item_digits"] = summary(key_waits(page, digits, truth, args.keys))
            result["page_switch_digits"] = summary(switch_waits(page, args.switches))
            if args.sms:
                first, ready = new_text_project(page, url, args.sms)
                result["new_5k_text_project"] = {
                    "import_to_first_item_s": round(first, 2),
                    "import_to_model_ready_s": round(ready, 2),
                }
                sms = store.open_project(args.sms.stem)
                labeled = load_file(args.sms, text_column="SMS", label_column="Label")
                truth = dict(zip(labeled.ids, labeled.labels, strict=True))
                waits = key_waits(page, sms, truth, args.keys)
                result["key_to_next_item_sms"] = summary(waits)
            browser.close()
    finally:
        stop_studio(process)
    result["load_after"] = os.getloadavg()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
