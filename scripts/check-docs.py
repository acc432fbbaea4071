#!/usr/bin/env python3
"""The README stays a first page and the docs stay complete (the test command runs this in layer 1):
- README.md has at most MAX_README_LINES lines, and its test command between the markers .ci/run reads;
- every relative link of README.md and of docs/*.md names a file that exists (an #anchor is not checked);
- every environment variable the services' code reads (the Env calls and System.getenv of */src/main/java) is in
  docs/configuration.md, in backticks, so the configuration page cannot fall behind the code.
Prints what it checked; exits 1 with every problem found."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_README_LINES = 150
# Env's readers (http-json Env: string, number, decimal, port, choice, replica...) called on env, this or
# Env.system(), and the JDK's own.
READ = re.compile(r'(?:\benv|\bthis|Env\.system\(\))\.\w+\(\s*"([A-Z][A-Z0-9_]+)"|System\.getenv\(\s*"([A-Z][A-Z0-9_]+)"')
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')


def env_variables():
    found = {}
    for source in sorted(ROOT.glob("*/src/main/java/**/*.java")):
        for match in READ.finditer(source.read_text()):
            found.setdefault(match.group(1) or match.group(2), source.relative_to(ROOT))
    return found


def broken_links(page):
    problems = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        if not path.exists():
            problems.append(f"{page.relative_to(ROOT)}: the link {target} names no file")
    return problems


def main():
    problems = []
    readme = (ROOT / "README.md").read_text()
    lines = readme.count("\n")
    if lines > MAX_README_LINES:
        problems.append(f"README.md has {lines} lines; at most {MAX_README_LINES}: move the detail to docs/")
    if not re.search(r"<!-- test-command -->\n```bash\n.+\n```", readme):
        problems.append("README.md has no test command between <!-- test-command --> and its code block")
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        problems += broken_links(page)
    configuration = (ROOT / "docs/configuration.md").read_text()
    variables = env_variables()
    for name, source in sorted(variables.items()):
        if f"`{name}`" not in configuration:
            problems.append(f"docs/configuration.md does not name `{name}`, which {source} reads")
    for problem in problems:
        print(f"check-docs: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check-docs: README.md {lines} lines (at most {MAX_README_LINES}); links of {len(pages)} pages resolve; "
          f"all {len(variables)} environment variables the code reads are in docs/configuration.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
