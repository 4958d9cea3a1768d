"""Build the deployed artifacts into dist/ and print their sizes.

- ``contabyx-<version>-py3-none-any.whl``: the product (packages ``contabyx`` and
  ``dynamo``), built from a copy of the source tree, so that nothing left in ``build/``
  from an earlier build (a module since deleted) can slip into it; its entries carry a
  fixed time, so the same source gives the same bytes.
- ``lambda.zip``: the HTTP API's Lambda function (handler ``contabyx.aws_lambda.handler``,
  runtime python3.11, x86_64): the pins of ``config/requirements-lambda.txt`` as
  manylinux2014 x86_64 CPython 3.11 wheels, installed with their hashes checked, and the
  wheel's ``contabyx`` package; no ``dynamo``, no console scripts, no bytecode. Its bytes
  depend only on its inputs: entries sorted, one timestamp, one mode.
- ``contabyx-sync.tar.gz``: what the EC2 instance unpacks into its install directory,
  exactly ``scripts/insert.sh``, ``config/requirements.txt``, ``config/.env.example``,
  ``dist/<the wheel>`` and ``wheels/``: one wheel per pin of ``config/requirements.txt``
  for the instance (manylinux2014 x86_64 CPython 3.11), downloaded with their hashes
  checked, so that the instance installs with ``--no-index`` and needs no package index,
  only S3; deterministic too.

boto3 in the Lambda zip: bundled (boto3, botocore, s3transfer, jmespath, python-dateutil,
six, urllib3 as pinned). The runtime's own copy changes when AWS updates the runtime, not
when this project does, and AWS's Python guide warns that a package holding some of the
SDK's dependencies (urllib3) beside the runtime's SDK can break on such an update; bundled
(the function's own files come first on its sys.path), the function runs the versions the
pins and the tests name. The cost, measured with the
pins of 2026-11 (``--runtime-sdk`` builds the other way): 19.8 MiB zipped and 32.3 MiB
unzipped with it (botocore alone is 16.4 MiB zipped: its service models are already
compressed), 3.2 MiB and 9.6 MiB without; within Lambda's 50 MiB zipped (direct upload)
and 250 MiB unzipped either way.

Usage::

    python scripts/package.py                     # make package: into dist/
    python scripts/package.py --out ../artifacts  # elsewhere
    python scripts/package.py --runtime-sdk       # a Lambda zip using the runtime's boto3
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional

try:
    import tomllib
except ImportError:  # Python < 3.11: the copy pip itself uses
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_REQUIREMENTS = ROOT / "config" / "requirements-lambda.txt"
SYNC_REQUIREMENTS = ROOT / "config" / "requirements.txt"
#: The platform of both deployed machines: the Lambda runtime python3.11 on x86_64, and
#: the sync's instance (Amazon Linux 2023, its python3.11, x86_64).
LAMBDA_PLATFORM = ("--platform", "manylinux2014_x86_64", "--implementation", "cp")
#: A patch release, not just 3.11: some pins ask for one (soupsieve 4.1 needs >= 3.11.5).
#: It is the one ``make requirements`` resolved the pins on; both machines run a later one.
LAMBDA_PYTHON = ("--python-version", "3.11.7", "--only-binary=:all:")
#: What the Lambda Python runtime already has: left out with --runtime-sdk.
RUNTIME_SDK = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
#: The sync bundle: path in the tarball -> source in the tree (the wheel is added apart).
SYNC_FILES = {
    "scripts/insert.sh": ROOT / "scripts" / "insert.sh",
    "config/requirements.txt": SYNC_REQUIREMENTS,
    "config/.env.example": ROOT / "config" / ".env.example",
}
#: The earliest time a zip entry can carry; the tarball uses the epoch.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01T00:00:00Z, ZIP_EPOCH
#: Lambda limits, in bytes: a zip uploaded directly, and everything unzipped.
LAMBDA_ZIPPED_LIMIT = 50 * 1024 * 1024
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
_SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".devstack",
    ".hypothesis",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
)


def version() -> str:
    """The project's version, from pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def _pip(*args: str) -> None:
    # The wheel's entries then carry this time, not the build's: the same source gives the
    # same wheel, and so the same sync bundle.
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    subprocess.run(  # noqa: S603 (this interpreter's pip, fixed arguments)
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=True, env=env
    )


def build_wheel(out: Path, scratch: Path) -> Path:
    """``out/contabyx-<version>-py3-none-any.whl``, built from a copy of the tree."""
    source = Path(shutil.copytree(ROOT, scratch / "source", ignore=_SKIP))
    wheel = out / f"contabyx-{version()}-py3-none-any.whl"
    wheel.unlink(missing_ok=True)
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(source))
    if not wheel.is_file():
        raise SystemExit(f"pip wheel did not write {wheel.name}")
    return wheel


def _without_sdk(requirements: Path, scratch: Path) -> Path:
    """A copy of ``requirements`` without the pins of :data:`RUNTIME_SDK`."""
    kept: List[str] = []
    skipping = False
    for line in requirements.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            name = line.split("==")[0].strip().lower().replace("_", "-")
            skipping = name in RUNTIME_SDK
        if not skipping:
            kept.append(line)
    copy = scratch / "requirements-lambda-runtime-sdk.txt"
    copy.write_text("\n".join(kept) + "\n")
    return copy


def stage_lambda(wheel: Path, requirements: Path, stage: Path) -> None:
    """The Lambda function's files in ``stage``: the pinned wheels for its platform, and
    the ``contabyx`` package of ``wheel``."""
    _pip(
        *("install", "--quiet", "--require-hashes", "--no-deps", "--no-compile"),
        *("--requirement", str(requirements), "--target", str(stage)),
        *LAMBDA_PLATFORM,
        *LAMBDA_PYTHON,
    )
    with zipfile.ZipFile(wheel) as source:
        for name in source.namelist():
            if name.startswith("contabyx/"):
                source.extract(name, stage)
    # Console scripts point at the build machine's interpreter; bytecode is rebuilt by
    # the runtime and would carry timestamps.
    shutil.rmtree(stage / "bin", ignore_errors=True)
    for cache in sorted(stage.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)


def _files(top: Path) -> List[Path]:
    return sorted((p for p in top.rglob("*") if p.is_file()), key=lambda p: p.as_posix())


def deterministic_zip(stage: Path, target: Path) -> None:
    """Zip every file under ``stage``: sorted names, one timestamp, mode 0644 (Lambda reads
    the modes; nothing there is run as a program)."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in _files(stage):
            info = zipfile.ZipInfo(path.relative_to(stage).as_posix(), date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so that the mode below is read
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def build_lambda(wheel: Path, out: Path, scratch: Path, *, runtime_sdk: bool) -> Path:
    """``out/lambda.zip``."""
    requirements = LAMBDA_REQUIREMENTS
    if runtime_sdk:
        requirements = _without_sdk(requirements, scratch)
    stage = scratch / "lambda"
    stage.mkdir()
    stage_lambda(wheel, requirements, stage)
    target = out / "lambda.zip"
    deterministic_zip(stage, target)
    return target


def _tar_member(name: str, data: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def download_sync_wheels(scratch: Path) -> List[Path]:
    """The wheels of every pin of ``config/requirements.txt``, for the sync's instance."""
    wheels = scratch / "wheels"
    _pip(
        *("download", "--quiet", "--require-hashes", "--no-deps"),
        *("--requirement", str(SYNC_REQUIREMENTS), "--dest", str(wheels)),
        *LAMBDA_PLATFORM,
        *LAMBDA_PYTHON,
    )
    return sorted(wheels.glob("*.whl"))


def build_sync_bundle(wheel: Path, out: Path, scratch: Path) -> Path:
    """``out/contabyx-sync.tar.gz``: :data:`SYNC_FILES`, ``dist/<wheel>`` and the pins'
    wheels under ``wheels/``, nothing else."""
    members: Dict[str, Path] = {**SYNC_FILES, f"dist/{wheel.name}": wheel}
    members.update({f"wheels/{w.name}": w for w in download_sync_wheels(scratch)})
    target = out / "contabyx-sync.tar.gz"
    with (
        target.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(members):
            data = members[name].read_bytes()
            mode = 0o755 if os.access(members[name], os.X_OK) else 0o644
            tar.addfile(_tar_member(name, data, mode), io.BytesIO(data))
    return target


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB ({size:,} bytes)"


def report(wheel: Path, lambda_zip: Path, bundle: Path) -> List[str]:
    """One line per artifact with its size; the Lambda zip's against Lambda's limits."""
    with zipfile.ZipFile(lambda_zip) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    zipped = lambda_zip.stat().st_size
    digest = hashlib.sha256(lambda_zip.read_bytes()).hexdigest()
    return [
        f"{_shown(wheel)}: {_mib(wheel.stat().st_size)}",
        f"{_shown(lambda_zip)}: {_mib(zipped)} zipped (limit 50 MiB), "
        f"{_mib(unzipped)} unzipped (limit 250 MiB)",
        f"{_shown(lambda_zip)}: sha256 {digest}",
        f"{_shown(bundle)}: {_mib(bundle.stat().st_size)}",
    ]


def over_limits(lambda_zip: Path) -> Optional[str]:
    """Why Lambda would refuse the zip, or None."""
    with zipfile.ZipFile(lambda_zip) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    if lambda_zip.stat().st_size > LAMBDA_ZIPPED_LIMIT:
        return f"{lambda_zip} is over 50 MiB: upload it through S3"
    if unzipped > LAMBDA_UNZIPPED_LIMIT:
        return f"{lambda_zip} unzips to more than 250 MiB, which Lambda refuses"
    return None


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="default: dist/")
    parser.add_argument(
        "--runtime-sdk",
        action="store_true",
        help="leave boto3 and its dependencies out of the Lambda zip (the runtime's)",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="contabyx-package-") as tmp:
        scratch = Path(tmp)
        wheel = build_wheel(out, scratch)
        lambda_zip = build_lambda(wheel, out, scratch, runtime_sdk=args.runtime_sdk)
        bundle = build_sync_bundle(wheel, out, scratch)
    print("\n".join(report(wheel, lambda_zip, bundle)))
    problem = over_limits(lambda_zip)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
