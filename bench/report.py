"""``python -m bench.report``: the targets of the latest full-size runs saved in
``bench/results/`` as Markdown tables (what docs/PERFORMANCE.md quotes)."""

from __future__ import annotations

import json

from bench.common import RESULTS

ORDER = ("scan_burst", "badge_sheets", "recap_run", "pages", "phone_weight")


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.2f}"


def main() -> None:
    runs = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(RESULTS.glob("*.json"))]
    runs.sort(key=lambda run: (ORDER.index(run["name"]) if run["name"] in ORDER else 99, run["database"]))
    print("| benchmark | database | target | measured | limit | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for run in runs:
        for target in run["targets"]:
            sign = "≥" if target["higher_is_better"] else "≤"
            what = target["what"].replace("|", "\\|")  # a pipe would end the table cell
            print(f"| {run['name']} | {run['database'] or '—'} | {what} | {_number(target['measured'])} "
                  f"| {sign} {_number(target['limit'])} | {'yes' if target['met'] else '**no**'} |")
    print()
    for run in runs:
        where = f" on {run['database']}" if run["database"] else ""
        print(f"**{run['name']}{where}** — {run['date']}, {run['machine']}\n")
        for label, value in run["figures"].items():
            print(f"- {label}: {value}")
        print()


if __name__ == "__main__":
    main()
