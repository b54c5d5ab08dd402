"""Print the shell command that follows a `<!-- NAME-command -->` marker in README.md."""

import re
import sys
from pathlib import Path

name = sys.argv[1]
text = Path(__file__).resolve().parents[1].joinpath("README.md").read_text(encoding="utf-8")
match = re.search(rf"<!-- {re.escape(name)}-command -->\s*```(?:bash|sh)?\n(.+?)\n```", text, re.S)
if not match:
    sys.exit(f"README.md: no `<!-- {name}-command -->` block")
print(" ".join(line.rstrip("\\").strip() for line in match.group(1).strip().splitlines()))
