#!/usr/bin/env python3
"""Vendor front-end packages from npm into webapp/static/vendor/.

Run with ``make vendor`` (needs npm and the npm registry). For each package it
downloads the pinned tarball with ``npm pack``, copies the listed files, the
licence and writes ``VERSION``; ``webapp/static/vendor/MANIFEST.txt`` lists
them all. The results are committed, so neither ``make run`` nor ``make test``
needs npm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "webapp" / "static" / "vendor"

# npm package -> (version, target folder, files inside the package to copy)
PACKAGES: dict[str, tuple[str, str, list[str]]] = {
    "@picocss/pico": ("2.1.1", "pico", ["css/pico.min.css"]),
    # BarcodeDetector ponyfill (global BarcodeDetectionAPI); its decoder is the
    # zxing-wasm reader below, served by us rather than fetched from a CDN.
    "barcode-detector": ("3.2.2", "barcode-detector", ["dist/iife/ponyfill.js"]),
    "zxing-wasm": ("3.1.3", "zxing-wasm", ["dist/reader/zxing_reader.wasm"]),
}
LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license")


def vendor(name: str, version: str, folder: str, files: list[str]) -> str:
    target = VENDOR / folder
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", tmp],
            check=True, capture_output=True, text=True,
        )
        tarball = Path(tmp) / json.loads(out.stdout)[0]["filename"]
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        package = Path(tmp) / "package"
        meta = json.loads((package / "package.json").read_text())
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for rel in files:
            shutil.copy2(package / rel, target / Path(rel).name)
        licence = next((package / n for n in LICENCE_NAMES if (package / n).exists()), None)
        if licence is None:
            raise SystemExit(f"{name}: no licence file in the package")
        shutil.copy2(licence, target / "LICENSE")
        (target / "VERSION").write_text(f"{name}@{meta['version']}\nlicense: {meta.get('license')}\n")
        return f"{folder}/: {name}@{meta['version']} ({meta.get('license')})"


def main() -> None:
    lines = [vendor(name, *spec) for name, spec in PACKAGES.items()]
    (VENDOR / "MANIFEST.txt").write_text(
        "Vendored by scripts/vendor.py from the npm registry. Do not edit by hand.\n"
        + "\n".join(lines) + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
