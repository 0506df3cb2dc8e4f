"""The README's Python examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace = {}
    # The blocks build on each other, as a reader running them in order would.
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out.splitlines()
    # best_params_ and score of the search, two test scores, one CV mean
    assert len(out) == 4
    for line in out[1:]:
        assert float(line.split()[-1]) > 0.9
    assert namespace["search"].best_params_["nearestneighbor__n_neighbors"] in (1, 3, 5)
