#!/usr/bin/env python3
"""Static checks of the Dockerfile against docs/deploy.md, .dockerignore and the repo (no Docker
daemon needed, standard library only).

    python3 tests/python/check_dockerfile.py [REPO_DIR]

- The runtime stage (the last one, the default target) has the base image, binary path, model
  path, USER, WORKDIR, ENTRYPOINT and CMD that docs/deploy.md states in its
  `<!-- image-layout -->` table; the doc is read, not constants kept here.
- The runtime stage copies exactly two things, both from earlier stages: the build stage's
  release binary (`<its WORKDIR>/target/release/convoqa`, or CARGO_TARGET_DIR) and the model
  stage's model directory, nothing from the build context; USER is not root.
- The build stage runs `cargo build --release --locked`; the model stage runs
  scripts/fetch-model.sh with `--dest` equal to the directory the runtime stage copies, and holds
  what the script reads with --dest at the repo's layout (scripts/fetch-model.sh, models/SHA256SUMS,
  models/README.md, models/heads/, models/adapters/).
- Every external base image is pinned (a tag that is not `latest`, or a digest); the Rust image
  has a full version; the build and runtime stages are on the same Debian release (glibc).
- Every file the Dockerfile COPYs from the build context exists, is tracked by git (a fresh clone
  has it), and is not excluded by .dockerignore; so is every file the build compiles in with
  include_str!/include_bytes! (outside #[cfg(test)] code), at the same path under the build
  stage's WORKDIR. .dockerignore keeps target/, .venv/, out/ and the downloaded encoders out.
- hadolint lints the Dockerfile when it is installed; otherwise that step is skipped.
- Controls: mutated copies of the Dockerfile (wrong ENTRYPOINT, a `latest` base, root USER, a
  --dest the runtime does not copy, the whole target/ copied, a missing context file) must each
  fail the checks, so a check that cannot fail is caught.

Exit code 0 when every check passes, 1 otherwise (each failure printed with what was expected).
"""
from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

DOC = "docs/deploy.md"
LAYOUT_START = "<!-- image-layout"
LAYOUT_END = "<!-- /image-layout -->"
LAYOUT_KEYS = {
    "base image": "base",
    "binary": "binary",
    "models": "models",
    "user": "user",
    "working directory": "workdir",
    "entrypoint": "entrypoint",
    "default command": "cmd",
}
# What fetch-model.sh --dest reads from the repo (it cds to the directory above scripts/).
FETCH_NEEDS = ["scripts/fetch-model.sh", "models/SHA256SUMS", "models/README.md", "models/heads", "models/adapters"]
# Must never reach the build context (examples of each tree .dockerignore is there to keep out).
MUST_BE_IGNORED = [
    "target/release/convoqa",
    ".venv/bin/python",
    "out/conversations.parquet",
    "models/e5-small/e5-small-q4.bin",
    "models/all-minilm-l6-v2/model.safetensors",
]
DEBIAN_RELEASES = ("buster", "bullseye", "bookworm", "trixie", "forky")
DEFAULT_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]


# ---- Dockerfile parsing ------------------------------------------------------------------------

@dataclass
class Instr:
    line: int
    op: str  # upper case
    args: str  # the rest, continuations joined
    workdir: str  # the stage's WORKDIR when this instruction runs
    env: dict = field(default_factory=dict)


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    line: int
    instrs: list[Instr] = field(default_factory=list)

    def ops(self, op: str) -> list[Instr]:
        return [i for i in self.instrs if i.op == op]

    def label(self) -> str:
        return f"stage {self.index} ({self.name or 'unnamed'}, FROM {self.base})"


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Instruction lines with continuations joined and comment lines dropped (as Docker does)."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue  # comments (parser directives included) and blank lines between instructions
        if not buf:
            start = n
        if raw.rstrip().endswith("\\"):
            buf.append(raw.rstrip()[:-1])
            continue
        buf.append(raw)
        out.append((start, " ".join(part.strip() for part in buf if part.strip())))
        buf = []
    if buf:
        out.append((start, " ".join(part.strip() for part in buf if part.strip())))
    return out


def parse_dockerfile(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for line, content in logical_lines(text):
        op, _, args = content.partition(" ")
        op = op.upper()
        args = args.strip()
        if op == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            base = words[0] if words else ""
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(len(stages), base, name, line))
            continue
        if not stages:
            if op == "ARG":
                continue  # ARGs before the first FROM
            raise ValueError(f"line {line}: {op} before the first FROM")
        st = stages[-1]
        prev = st.instrs[-1] if st.instrs else None
        workdir = prev.workdir if prev else "/"
        env = dict(prev.env) if prev else {}
        if prev and prev.op == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(prev.workdir, exec_or_words(prev.args)[0]))
        if prev and prev.op == "ENV":
            env.update(parse_env(prev.args))
        st.instrs.append(Instr(line, op, args, workdir, env))
    return stages


def parse_env(args: str) -> dict:
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}  # legacy `ENV KEY value`
    return dict(w.split("=", 1) for w in words if "=" in w)


def exec_or_words(args: str) -> list[str]:
    """The JSON (exec) form if the instruction uses it, else its shell words."""
    if args.startswith("["):
        return json.loads(args)
    return shlex.split(args)


def final_value(stage: Stage, op: str) -> Instr | None:
    found = stage.ops(op)
    return found[-1] if found else None


def workdir_of(stage: Stage) -> str:
    """The stage's WORKDIR after its last instruction."""
    last = stage.instrs[-1] if stage.instrs else None
    if last is None:
        return "/"
    if last.op == "WORKDIR":
        return posixpath.normpath(posixpath.join(last.workdir, exec_or_words(last.args)[0]))
    return last.workdir


@dataclass
class Copy:
    instr: Instr
    from_stage: str | None
    sources: list[str]
    dest: str  # absolute, as written (trailing slash kept)


def parse_copy(instr: Instr) -> Copy:
    rest = instr.args
    flags = []
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        flags.append(flag)
        rest = rest.lstrip()
    paths = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
    from_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
    if len(paths) < 2:
        raise ValueError(f"line {instr.line}: {instr.op} needs a source and a destination: {instr.args}")
    *sources, dest = paths
    absolute = dest if dest.startswith("/") else posixpath.join(instr.workdir, dest)
    if dest.endswith("/") and not absolute.endswith("/"):
        absolute += "/"
    return Copy(instr, from_stage, sources, absolute)


def norm(path: str) -> str:
    return posixpath.normpath(path) if path else path


# ---- .dockerignore (moby/patternmatcher semantics) ---------------------------------------------

def read_dockerignore(text: str) -> list[tuple[bool, re.Pattern]]:
    patterns = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        exclusion = pattern.startswith("!")
        if exclusion:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = posixpath.normpath(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append((exclusion, re.compile(pattern_regex(pattern))))
    return patterns


def pattern_regex(pattern: str) -> str:
    out = "^"
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i:i + 2] == "**":
                i += 1
                if pattern[i + 1:i + 2] == "/":
                    out += "(.*/)?"  # **/ : zero or more directories
                    i += 1
                else:
                    out += ".*"
            else:
                out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out += re.escape(c)
            else:
                cls = pattern[i + 1:end]
                out += "[" + ("^" + cls[1:] if cls.startswith("^") else cls) + "]"
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return out + "$"


def ignored(path: str, patterns: list[tuple[bool, re.Pattern]]) -> bool:
    """True when .dockerignore keeps PATH (relative to the context) out of the build context: a
    pattern matching the path or one of its parent directories; the last matching one decides."""
    path = posixpath.normpath(path)
    parts = path.split("/")
    parents = ["/".join(parts[:i]) for i in range(1, len(parts))]
    matched = False
    for exclusion, rx in patterns:
        if exclusion != matched:
            continue
        match = bool(rx.match(path)) or any(rx.match(p) for p in parents)
        if match:
            matched = not exclusion
    return matched


# ---- the repo ----------------------------------------------------------------------------------

class Repo:
    def __init__(self, root: Path):
        self.root = root
        self.tracked: set[str] | None = None
        if shutil.which("git"):
            r = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True)
            if r.returncode == 0:
                self.tracked = {p for p in r.stdout.decode().split("\0") if p}

    def files_under(self, rel: str) -> list[str]:
        base = self.root / rel
        if base.is_file():
            return [rel]
        out = []
        for dirpath, _dirs, files in os.walk(base):
            for f in files:
                out.append(str(Path(dirpath, f).relative_to(self.root)).replace(os.sep, "/"))
        return sorted(out)

    def is_tracked(self, rel: str) -> bool:
        if self.tracked is None:
            return True  # no git: existence is all that can be checked
        return rel in self.tracked or any(t.startswith(rel.rstrip("/") + "/") for t in self.tracked)


def compiled_in_files(repo: Repo) -> list[str]:
    """Repo files the workspace's crates compile in with include_str!/include_bytes!, outside
    #[cfg(test)] code (by the convention of test modules at the end of a file)."""
    found = set()
    for src in repo.files_under("src") + repo.files_under("crates"):
        if not src.endswith(".rs"):
            continue
        text = (repo.root / src).read_text(encoding="utf-8", errors="replace")
        test_from = text.find("#[cfg(test)]")
        for m in re.finditer(r'include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)', text):
            if test_from != -1 and m.start() > test_from:
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(src), m.group(1)))
            found.add(target)
    return sorted(found)


# ---- the checks --------------------------------------------------------------------------------

def doc_layout(doc_text: str) -> dict:
    start = doc_text.find(LAYOUT_START)
    end = doc_text.find(LAYOUT_END)
    if start == -1 or end == -1 or end < start:
        raise ValueError(f"{DOC} has no {LAYOUT_START} ... {LAYOUT_END} block")
    values = {}
    for row in doc_text[start:end].splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")] if row.strip().startswith("|") else []
        if len(cells) != 2 or cells[0] not in LAYOUT_KEYS:
            continue
        m = re.fullmatch(r"`([^`]+)`", cells[1])
        if not m:
            raise ValueError(f"{DOC} image-layout row {cells[0]!r}: the value must be in backticks, got {cells[1]!r}")
        values[LAYOUT_KEYS[cells[0]]] = m.group(1)
    missing = [k for k, v in LAYOUT_KEYS.items() if v not in values]
    if missing:
        raise ValueError(f"{DOC} image-layout block lacks the rows: {', '.join(missing)}")
    for key in ("entrypoint", "cmd"):
        values[key] = json.loads(values[key])
    return values


def image_ref(ref: str) -> tuple[str, str | None, str | None]:
    """name, tag, digest of an image reference."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    name, tag = ref, None
    if ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
    return name, tag, digest


class Checker:
    def __init__(self, dockerfile: str, doc: str, dockerignore: str, repo: Repo):
        self.dockerfile, self.doc, self.repo = dockerfile, doc, repo
        self.ignore = read_dockerignore(dockerignore)
        self.errors: list[str] = []
        self.oks: list[str] = []

    def ok(self, msg: str):
        self.oks.append(msg)

    def fail(self, msg: str):
        self.errors.append(msg)

    def expect(self, cond: bool, ok: str, fail: str):
        (self.ok if cond else self.fail)(ok if cond else fail)

    def run(self) -> list[str]:
        try:
            stages = parse_dockerfile(self.dockerfile)
            doc = doc_layout(self.doc)
        except (ValueError, json.JSONDecodeError) as e:
            self.fail(str(e))
            return self.errors
        if len(stages) < 3:
            self.fail(f"expected build, model and runtime stages, found {len(stages)} FROM lines")
            return self.errors
        by_name = {s.name: s for s in stages if s.name}
        runtime = stages[-1]
        build = next((s for s in stages if any(re.search(r"\bcargo build\b", i.args) for i in s.ops("RUN"))), None)
        models = next((s for s in stages if any("fetch-model.sh" in i.args for i in s.ops("RUN"))), None)
        if build is None or models is None or runtime in (build, models):
            self.fail("could not find a build stage (RUN cargo build), a model stage (RUN ... fetch-model.sh) "
                      "and a separate runtime stage (the last)")
            return self.errors
        self.check_bases(stages, build, runtime, doc)
        self.check_build(build)
        dest = self.check_models(models)
        self.check_runtime(runtime, build, models, by_name, dest, doc)
        self.check_context(stages, build)
        self.check_dockerignore()
        return self.errors

    def check_bases(self, stages, build, runtime, doc):
        names = {s.name for s in stages if s.name}
        for s in stages:
            if s.base in names:
                continue
            name, tag, digest = image_ref(s.base)
            if digest:
                self.ok(f"{s.label()}: pinned by digest")
            elif tag is None or tag == "latest" or tag.endswith("-latest"):
                self.fail(f"{s.label()}: base image not pinned (tag {tag or 'missing, i.e. latest'}); use a version tag or digest")
            else:
                self.ok(f"{s.label()}: base image pinned by tag {tag!r}")
        _, build_tag, _ = image_ref(build.base)
        if build.base.startswith(("rust:", "docker.io/library/rust:")):
            self.expect(bool(build_tag and re.match(r"\d+\.\d+\.\d+", build_tag)),
                        f"build stage: the Rust toolchain is a full version ({build_tag})",
                        f"build stage: {build.base} does not name a full Rust version (x.y.z)")
        rel = lambda ref: next((r for r in DEBIAN_RELEASES if r in ref), None)
        b, r = rel(build.base), rel(runtime.base)
        self.expect(b is not None and b == r,
                    f"build and runtime stages on the same Debian release ({b}): the binary runs with the glibc it linked",
                    f"build stage is on {b or 'an unnamed release'} ({build.base}), runtime on {r or 'an unnamed release'} ({runtime.base}): "
                    "name the same Debian release in both tags")
        self.expect(runtime.base == doc["base"], f"runtime base image is {doc['base']}, as {DOC} says",
                    f"runtime base image: {DOC} says {doc['base']}, the Dockerfile has {runtime.base}")

    def check_build(self, build):
        runs = [i.args for i in build.ops("RUN") if re.search(r"\bcargo build\b", i.args)]
        final = runs[-1]
        self.expect("--release" in final and "--locked" in final,
                    "build stage: cargo build --release --locked",
                    f"build stage: the last cargo build lacks --release or --locked: {final}")

    def check_models(self, models) -> str | None:
        run = next(i for i in models.ops("RUN") if "fetch-model.sh" in i.args)
        # The fetch-model.sh command, from the RUN's shell words up to the next && or ;
        words = shlex.split(run.args.replace("&&", " && ").replace(";", " ; "))
        at = next(k for k, w in enumerate(words) if w.endswith("fetch-model.sh"))
        cmd = []
        for w in words[at:]:
            if w in ("&&", ";", "||", "|"):
                break
            cmd.append(w)
        dest = None
        for k, w in enumerate(cmd):
            if w == "--dest" and k + 1 < len(cmd):
                dest = cmd[k + 1]
            elif w.startswith("--dest="):
                dest = w.split("=", 1)[1]
        if dest is None:
            self.fail(f"model stage (line {run.line}): fetch-model.sh runs without --dest: {' '.join(cmd)}")
            return None
        if not dest.startswith("/"):
            dest = posixpath.join(run.workdir, dest)
        dest = norm(dest)
        self.ok(f"model stage: fetch-model.sh --dest {dest}")
        # What the script reads must be at the repo's layout under one root; the script's path gives it.
        script = cmd[0]
        script_abs = norm(script if script.startswith("/") else posixpath.join(run.workdir, script))
        root = posixpath.dirname(posixpath.dirname(script_abs))
        in_stage = self.copied_context_files(models, before=run.line)
        for need in FETCH_NEEDS:
            wanted = self.repo.files_under(need)
            missing = [f for f in wanted if posixpath.join(root, f) not in in_stage]
            self.expect(bool(wanted) and not missing,
                        f"model stage: {need} at {posixpath.join(root, need)}, where fetch-model.sh reads it",
                        f"model stage: fetch-model.sh --dest reads {need}, but {', '.join(missing) or need} "
                        f"is not copied to {root}/ before line {run.line}")
        return dest

    def copied_context_files(self, stage, before: int) -> dict:
        """Image path -> repo path of every context file the stage COPYs before line BEFORE."""
        out = {}
        for instr in stage.instrs:
            if instr.line >= before or instr.op not in ("COPY", "ADD"):
                continue
            cp = parse_copy(instr)
            if cp.from_stage:
                continue
            multi = len(cp.sources) > 1
            for src in cp.sources:
                src = norm(src)
                for f in self.repo.files_under(src):
                    if ignored(f, self.ignore):
                        continue
                    if (self.repo.root / src).is_dir():
                        target = posixpath.join(cp.dest, posixpath.relpath(f, src))
                    elif multi or cp.dest.endswith("/"):
                        target = posixpath.join(cp.dest, posixpath.basename(f))
                    else:
                        target = cp.dest
                    out[norm(target)] = f
        return out

    def check_runtime(self, runtime, build, models, by_name, model_dest, doc):
        copies = [parse_copy(i) for i in runtime.instrs if i.op in ("COPY", "ADD")]
        for cp in copies:
            if cp.instr.op == "ADD":
                self.fail(f"runtime stage line {cp.instr.line}: ADD; the runtime stage only COPYs the binary and the models")
            elif cp.from_stage is None:
                self.fail(f"runtime stage line {cp.instr.line}: COPY from the build context ({' '.join(cp.sources)}); "
                          "it should hold only the binary and the models")
            elif cp.from_stage not in by_name and not cp.from_stage.isdigit():
                self.fail(f"runtime stage line {cp.instr.line}: COPY --from={cp.from_stage}, not a stage of this Dockerfile")

        from_build = [cp for cp in copies if cp.from_stage and (by_name.get(cp.from_stage) is build or cp.from_stage == str(build.index))]
        from_models = [cp for cp in copies if cp.from_stage and (by_name.get(cp.from_stage) is models or cp.from_stage == str(models.index))]
        others = [cp for cp in copies if cp.from_stage and cp not in from_build and cp not in from_models]
        for cp in others:
            self.fail(f"runtime stage line {cp.instr.line}: COPY --from={cp.from_stage}; only the build and model stages feed it")

        # The binary: exactly the release binary, to the doc's path.
        target_dir = build.instrs[-1].env.get("CARGO_TARGET_DIR") if build.instrs else None
        if target_dir and not target_dir.startswith("/"):
            target_dir = posixpath.join(workdir_of(build), target_dir)
        binary_src = norm(posixpath.join(target_dir or posixpath.join(workdir_of(build), "target"), "release/convoqa"))
        if len(from_build) != 1 or len(from_build[0].sources) != 1:
            self.fail(f"runtime stage: expected one COPY of one file from the build stage, found "
                      f"{[(c.instr.line, c.sources) for c in from_build]}")
        else:
            cp = from_build[0]
            self.expect(norm(cp.sources[0]) == binary_src,
                        f"runtime stage copies from the build stage only the binary {binary_src}",
                        f"runtime stage line {cp.instr.line}: copies {cp.sources[0]} from the build stage; "
                        f"only the release binary {binary_src} belongs in the image")
            dest = cp.dest.rstrip("/") if not cp.dest.endswith("/") else posixpath.join(cp.dest, "convoqa")
            self.expect(norm(dest) == doc["binary"], f"binary at {doc['binary']}, as {DOC} says",
                        f"binary: {DOC} says {doc['binary']}, the Dockerfile puts it at {norm(dest)}")

        # The models: exactly fetch-model.sh's --dest, to the doc's path.
        if len(from_models) != 1 or len(from_models[0].sources) != 1:
            self.fail(f"runtime stage: expected one COPY of the model directory from the model stage, found "
                      f"{[(c.instr.line, c.sources) for c in from_models]}")
        else:
            cp = from_models[0]
            self.expect(model_dest is not None and norm(cp.sources[0]) == model_dest,
                        f"runtime stage copies from the model stage only {model_dest} (fetch-model.sh's --dest)",
                        f"runtime stage line {cp.instr.line}: copies {cp.sources[0]} from the model stage, "
                        f"but fetch-model.sh writes --dest {model_dest}")
            self.expect(norm(cp.dest) == doc["models"], f"models at {doc['models']}, as {DOC} says",
                        f"models: {DOC} says {doc['models']}, the Dockerfile puts them at {norm(cp.dest)}")
            binary_dir = posixpath.dirname(doc["binary"])
            beside = {norm(posixpath.join(binary_dir, "models")), norm(posixpath.join(binary_dir, "../share/convoqa/models"))}
            self.expect(doc["models"] in beside,
                        f"{doc['models']} is next to the binary (model search rule 3)",
                        f"{doc['models']} is not where the binary looks next to {doc['binary']}: one of {sorted(beside)}")

        user = final_value(runtime, "USER")
        got_user = user.args if user else None
        self.expect(got_user == doc["user"], f"USER {doc['user']}, as {DOC} says",
                    f"USER: {DOC} says {doc['user']}, the runtime stage has {got_user or 'none (root)'}")
        if got_user is not None and got_user.split(":")[0] in ("0", "root"):
            self.fail(f"runtime stage runs as root (USER {got_user})")
        elif got_user is not None:
            self.ok(f"runtime user {got_user} is not root")
        got_workdir = workdir_of(runtime)
        self.expect(got_workdir == doc["workdir"], f"WORKDIR {doc['workdir']}, as {DOC} says",
                    f"WORKDIR: {DOC} says {doc['workdir']}, the runtime stage ends in {got_workdir}")
        for op, key in (("ENTRYPOINT", "entrypoint"), ("CMD", "cmd")):
            instr = final_value(runtime, op)
            if instr is None:
                self.fail(f"runtime stage has no {op}; {DOC} says {json.dumps(doc[key])}")
                continue
            if not instr.args.startswith("["):
                self.fail(f"runtime stage line {instr.line}: {op} in shell form; use the exec form {json.dumps(doc[key])}")
                continue
            got = json.loads(instr.args)
            self.expect(got == doc[key], f"{op} {json.dumps(got)}, as {DOC} says",
                        f"{op}: {DOC} says {json.dumps(doc[key])}, the runtime stage has {json.dumps(got)}")
        entry = final_value(runtime, "ENTRYPOINT")
        if entry is not None and entry.args.startswith("["):
            prog = json.loads(entry.args)[0] if json.loads(entry.args) else ""
            resolves = prog == doc["binary"] or (
                "/" not in prog and posixpath.dirname(doc["binary"]) in DEFAULT_PATH and posixpath.basename(doc["binary"]) == prog)
            self.expect(resolves, f"ENTRYPOINT {prog} is the copied binary",
                        f"ENTRYPOINT {prog!r} does not resolve to the binary at {doc['binary']} on the default PATH")

    def check_context(self, stages, build):
        sent = 0
        for s in stages:
            for instr in s.instrs:
                if instr.op not in ("COPY", "ADD"):
                    continue
                cp = parse_copy(instr)
                if cp.from_stage:
                    continue
                for src in cp.sources:
                    if "$" in src or re.search(r"[*?\[]", src):
                        self.fail(f"line {instr.line}: source {src} uses a variable or wildcard this check does not expand")
                        continue
                    rel = norm(src)
                    if rel.startswith(".."):
                        self.fail(f"line {instr.line}: source {src} is outside the build context")
                        continue
                    path = self.repo.root / rel
                    if not path.exists():
                        self.fail(f"line {instr.line}: COPY source {src} does not exist in the repo")
                        continue
                    if ignored(rel, self.ignore):
                        self.fail(f"line {instr.line}: COPY source {src} is excluded by .dockerignore")
                        continue
                    if not self.repo.is_tracked(rel):
                        self.fail(f"line {instr.line}: COPY source {src} is not tracked by git (a fresh clone lacks it)")
                        continue
                    files = [f for f in self.repo.files_under(rel) if not ignored(f, self.ignore)]
                    if not files:
                        self.fail(f"line {instr.line}: every file under {src} is excluded by .dockerignore")
                        continue
                    sent += len(files)
        self.ok(f"every COPY source from the build context exists, is tracked and is not ignored ({sent} files)")
        # include_str!/include_bytes! targets must be in the build stage at the repo's layout.
        wd = workdir_of(build)
        last_build = max(i.line for i in build.ops("RUN") if re.search(r"\bcargo build\b", i.args))
        in_build = self.copied_context_files(build, before=last_build)
        for f in compiled_in_files(self.repo):
            self.expect(posixpath.join(wd, f) in in_build,
                        f"build stage has {f} (compiled in) at {posixpath.join(wd, f)}",
                        f"build stage: src compiles in {f} with include_str!/include_bytes!, but it is not copied to "
                        f"{posixpath.join(wd, f)} before the build (line {last_build})")

    def check_dockerignore(self):
        leaks = [p for p in MUST_BE_IGNORED if not ignored(p, self.ignore)]
        self.expect(not leaks, ".dockerignore keeps target/, .venv/, out/ and the downloaded encoders out of the context",
                    f".dockerignore lets these into the build context: {', '.join(leaks)}")


# ---- controls ----------------------------------------------------------------------------------

def mutations(dockerfile: str) -> list[tuple[str, str, str]]:
    """(what, mutated Dockerfile, a word the failure must mention)."""
    out = []

    def sub(what, pattern, repl, must):
        mutated, n = re.subn(pattern, repl, dockerfile, count=1, flags=re.M)
        if n != 1:
            raise SystemExit(f"FAIL: control {what!r}: pattern {pattern!r} not found in the Dockerfile")
        out.append((what, mutated, must))

    sub("wrong ENTRYPOINT", r'^ENTRYPOINT .*$', 'ENTRYPOINT ["/usr/bin/convoqa"]', "ENTRYPOINT")
    sub("ENTRYPOINT in shell form", r'^ENTRYPOINT .*$', 'ENTRYPOINT convoqa', "ENTRYPOINT")
    sub("runtime base on latest", r'^FROM debian:\S+', 'FROM debian:latest', "pinned")
    sub("USER root", r'^USER .*$', 'USER root', "USER")
    sub("--dest not what the runtime copies", r'--dest /opt/convoqa-models', '--dest /opt/other-models', "--dest")
    sub("whole target/ copied", r'(COPY --from=build )\S+', r'\1/src/convoqa/target', "binary")
    sub("a COPY source missing from the repo", r'^COPY src ', 'COPY source-that-is-not-there ', "does not exist")
    sub("an include_str! file not copied", r'^COPY data/taxonomy/intents.toml .*\n', '', "compiles in")
    sub("runtime takes a file from the build context", r'^WORKDIR /data$', 'COPY README.md /usr/local/share/doc/convoqa/\nWORKDIR /data',
        "build context")
    sub("WORKDIR not the doc's", r'^WORKDIR /data$', 'WORKDIR /work', "WORKDIR")
    sub("build on another Debian release", r'^FROM rust:(\S+)-bookworm', r'FROM rust:\1-trixie', "Debian release")
    return out


def main() -> int:
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
    try:
        dockerfile = (root / "Dockerfile").read_text()
        doc = (root / DOC).read_text()
        dockerignore = (root / ".dockerignore").read_text()
    except OSError as e:
        print(f"FAIL: {e}")
        return 1
    repo = Repo(root)

    checker = Checker(dockerfile, doc, dockerignore, repo)
    errors = checker.run()
    for msg in checker.oks:
        print(f"ok: {msg}")
    for msg in errors:
        print(f"FAIL: {msg}")

    if not checker.oks:
        print("check_dockerfile: the checks could not run (above); controls skipped")
        return 1

    # Controls: each mutation must be caught, and by the check it is aimed at.
    control_failures = 0
    for what, mutated, must in mutations(dockerfile):
        errs = Checker(mutated, doc, dockerignore, repo).run()
        hit = [e for e in errs if must in e]
        if hit:
            print(f"ok: control ({what}) fails as it should: {hit[0]}")
        else:
            control_failures += 1
            print(f"FAIL: control ({what}) was not caught (errors: {errs or 'none'})")
    # And the doc side: a doc stating another entrypoint fails against the real Dockerfile.
    wrong_doc = re.sub(r'\| entrypoint \| `[^`]*` \|', '| entrypoint | `["convoqa", "analyze"]` |', doc, count=1)
    errs = Checker(dockerfile, wrong_doc, dockerignore, repo).run()
    if any("ENTRYPOINT" in e for e in errs):
        print("ok: control (doc states another ENTRYPOINT) fails as it should")
    else:
        control_failures += 1
        print(f"FAIL: control (doc states another ENTRYPOINT) was not caught (errors: {errs or 'none'})")
    leaky = dockerignore.replace("\ntarget\n", "\n")
    errs = Checker(dockerfile, doc, leaky, repo).run()
    if any(".dockerignore lets" in e for e in errs):
        print("ok: control (.dockerignore without target) fails as it should")
    else:
        control_failures += 1
        print(f"FAIL: control (.dockerignore without target) was not caught (errors: {errs or 'none'})")

    hadolint = shutil.which("hadolint")
    lint_failed = False
    if hadolint:
        r = subprocess.run([hadolint, str(root / "Dockerfile")], capture_output=True, text=True)
        lint_failed = r.returncode != 0
        print(("FAIL: hadolint:\n" + r.stdout + r.stderr) if lint_failed else "ok: hadolint")
    else:
        print("skip: hadolint is not installed (lint skipped)")

    if errors or control_failures or lint_failed:
        print(f"check_dockerfile: {len(errors)} failed check(s), {control_failures} control(s) not caught"
              + (", hadolint failed" if lint_failed else ""))
        return 1
    print("check_dockerfile: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
