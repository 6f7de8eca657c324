"""The README's Python API example runs as written, from the repository root."""

from __future__ import annotations

import re
import shutil

import pytest

from test_examples import REPO, run_script


def python_blocks(section: str) -> list[str]:
    """Return the ```python blocks of a README section (## heading), in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, f"README has no '## {section}' section"
    return re.findall(r"^```python\n(.*?)^```", match.group(1), re.S | re.M)


def test_readme_api_blocks_run_on_the_bundled_sample(tmp_path):
    pytest.importorskip("pandas")
    blocks = python_blocks("Python API")
    assert len(blocks) >= 2
    assert 'fascidetect.read("signals/' in blocks[0] and "to_dataframe()" in blocks[0]
    assert "fascidetect.plot." in blocks[0]
    # The repository root as seen by the snippet, with the outputs kept out of the checkout.
    try:
        (tmp_path / "signals").symlink_to(REPO / "signals", target_is_directory=True)
    except OSError:  # no symlinks (some Windows setups): a copy, 3 MB
        shutil.copytree(REPO / "signals", tmp_path / "signals")
    script = tmp_path / "readme_api.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    res = run_script(script, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "fasciculation" in res.stdout
    for name in re.findall(r'"([\w.]+\.(?:png|tsv))"', "\n".join(blocks)):
        assert (tmp_path / name).is_file(), f"the README example did not write {name}"
