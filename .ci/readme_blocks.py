"""Write the README's Quick start as scripts, so that CI runs exactly what the README says.

    python .ci/readme_blocks.py README.md OUTDIR

OUTDIR/quickstart.sh  every line of the Quick start's first sh block, as written
OUTDIR/bare.sh        the same up to `boxkoji doctor`, without the line that installs what the
                      services run: a machine that only has what pip needs
OUTDIR/test_*.py      the Quick start's first python block, under the file name its first line gives
"""

import re
import sys
from pathlib import Path

readme, out = Path(sys.argv[1]).read_text(), Path(sys.argv[2])
section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
sh = re.search(r"```sh\n(.*?)```", section, re.S)
python = re.search(r"```python\n(.*?)```", section, re.S)
if not sh or not python:
    sys.exit("README.md: the Quick start has no ```sh or no ```python block")
commands = sh.group(1).replace("\\\n", " ").splitlines()
name = re.match(r"# (test_\w+\.py)", python.group(1))
if not name:
    sys.exit("README.md: the Quick start's python block must start with '# test_<name>.py'")
doctor = next((i for i, line in enumerate(commands) if line.startswith("boxkoji doctor")), None)
if doctor is None or not any("what the services run" in line for line in commands[:doctor]):
    sys.exit("README.md: expected `boxkoji doctor`, after one line marked 'what the services run'")
bare = [line for line in commands[:doctor] if "what the services run" not in line]
# The site shows the same example from a file (docs/examples/): the two must not drift.
example = Path(sys.argv[1]).parent / "docs" / "examples" / name.group(1)
if example.exists() and example.read_text() != python.group(1):
    sys.exit(f"README.md: the Quick start's python block differs from {example}")
out.mkdir(parents=True, exist_ok=True)
(out / "quickstart.sh").write_text("\n".join(commands) + "\n")
(out / "bare.sh").write_text("\n".join(bare) + "\n")
(out / name.group(1)).write_text(python.group(1))
print(f"Quick start: {len(commands)} commands, test file {name.group(1)}")
