"""DynamoDB Local (AWS's own emulator): fetch once, verify, run on 127.0.0.1 only.

The emulator ships inside the npm package ``amplify-dynamodb-simulator``; it is
fetched with ``npm pack`` from the npm registry into the user's cache, and the
jar's SHA-256 is checked before every use. ``DYNAMODB_LOCAL_DIR`` may point at
an unpacked copy instead (a folder with ``DynamoDBLocal.jar`` and
``DynamoDBLocal_lib``).

The jar has no bind-address option: its Jetty server listens on every
interface. So we do not start it through its own ``main``; we start Jetty's
``XmlConfiguration`` runner (already on the jar's class path) with a small
configuration file that calls the emulator's own factory
``ServerRunner.createServerFromCommandLineArgs``, sets the Jetty connector's
host to 127.0.0.1, then starts the server. Nothing is compiled.

Example::

    home = ensure_dynamodb_local()
    argv = command(home, port=8000, state_dir=Path(".devstack"))
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import List

VERSION = "1.25.1"
NPM_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
JAR_SHA256 = "454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7"
JAR = "DynamoDBLocal.jar"
LIB = "DynamoDBLocal_lib"
_EMULATOR_PREFIX = "package/emulator/"
_XML_NAME = "dynamodb-local-loopback.xml"

# Jetty's XmlConfiguration wiring: build the server exactly as the jar's main
# does, then bind its only connector to the loopback address before starting.
_LOOPBACK_XML = """\
<?xml version="1.0"?>
<!DOCTYPE Configure PUBLIC "-//Jetty//Configure//EN"
  "http://www.eclipse.org/jetty/configure_9_3.dtd">
<Configure id="root" class="java.lang.Object">
  <Call id="proxy" name="createServerFromCommandLineArgs"
        class="com.amazonaws.services.dynamodbv2.local.main.ServerRunner">
    <Arg>
      <Array type="java.lang.String">
        <Item>-inMemory</Item>
        <Item>-sharedDb</Item>
        <Item>-disableTelemetry</Item>
        <Item>-port</Item>
        <Item><Property name="dynamodb.port"/></Item>
      </Array>
    </Arg>
  </Call>
  <Call class="java.lang.Class" name="forName">
    <Arg>com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer</Arg>
    <Call name="getDeclaredField">
      <Arg>server</Arg>
      <Call name="setAccessible"><Arg type="boolean">true</Arg></Call>
      <Call id="jetty" name="get"><Arg><Ref refid="proxy"/></Arg></Call>
    </Call>
  </Call>
  <Ref refid="jetty">
    <Call id="connectors" name="getConnectors"/>
  </Ref>
  <Call class="java.lang.reflect.Array" name="get">
    <Arg><Ref refid="connectors"/></Arg>
    <Arg type="int">0</Arg>
    <Call name="setHost"><Arg><Property name="dynamodb.host"/></Arg></Call>
  </Call>
  <Ref refid="proxy">
    <Call name="start"/>
  </Ref>
</Configure>
"""


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be obtained, verified or started."""


def cache_dir() -> Path:
    """Where the fetched emulator lives: ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "contabyx" / f"dynamodb-local-{VERSION}"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(home: Path) -> Path:
    """Check that ``home`` holds the expected jar and its libraries; return ``home``.

    Raises DynamoDBLocalError on a missing file or a hash mismatch.
    """
    jar = home / JAR
    if not jar.is_file() or not (home / LIB).is_dir():
        raise DynamoDBLocalError(f"{home} does not hold {JAR} and {LIB}/")
    actual = sha256_of(jar)
    if actual != JAR_SHA256:
        raise DynamoDBLocalError(
            f"refusing {jar}: SHA-256 is {actual}, expected {JAR_SHA256} "
            f"(DynamoDB Local {VERSION}); delete it to fetch a fresh copy"
        )
    return home


def ensure_dynamodb_local() -> Path:
    """Return a verified DynamoDB Local folder, fetching it on first use.

    ``DYNAMODB_LOCAL_DIR`` wins over the cache when set.
    """
    override = os.environ.get("DYNAMODB_LOCAL_DIR")
    if override:
        return verify(Path(override).expanduser())
    home = cache_dir()
    if not home.exists():
        _fetch(home)
    return verify(home)


def _fetch(home: Path) -> None:
    """Fetch the emulator into ``home`` atomically.

    Everything happens in a temporary folder next to ``home`` and ends with one
    rename, so two processes fetching at once both end with a complete copy.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalError(
            "npm is needed once to fetch DynamoDB Local from the npm registry; install "
            "Node.js, or set DYNAMODB_LOCAL_DIR to an unpacked DynamoDB Local folder"
        )
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=home.parent) as tmp:
        work = Path(tmp)
        result = subprocess.run(
            [npm, "pack", "--silent", NPM_PACKAGE],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = sorted(work.glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise DynamoDBLocalError(
                f"npm pack {NPM_PACKAGE} failed ({result.returncode}): {result.stderr.strip()}"
            )
        staged = work / "emulator"
        _extract_emulator(tarballs[0], staged)
        verify(staged)
        try:
            staged.rename(home)
        except OSError:
            # Another process finished first; its copy is verified on use.
            if not (home / JAR).is_file():
                raise


def _extract_emulator(tarball: Path, dest: Path) -> None:
    """Extract only ``package/emulator/`` of the npm tarball into ``dest``."""
    dest.mkdir()
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            if not member.name.startswith(_EMULATOR_PREFIX):
                continue
            relative = Path(member.name[len(_EMULATOR_PREFIX) :])
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise DynamoDBLocalError(f"unsafe path in {tarball.name}: {member.name}")
            target = dest / relative
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
            # Links and devices are skipped: the emulator has none.


def java_executable() -> str:
    """The ``java`` to run (``$JAVA_HOME/bin/java`` first), or a clear error."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise DynamoDBLocalError("DynamoDB Local needs Java 11 or newer: no `java` on PATH")
    return found


def command(home: Path, port: int, state_dir: Path, host: str = "127.0.0.1") -> List[str]:
    """The argv that runs DynamoDB Local from ``home`` on ``host:port``.

    Writes the Jetty wiring file into ``state_dir``; its path is in the argv,
    which lets the stack recognise the process later.
    """
    xml = state_dir / _XML_NAME
    xml.write_text(_LOOPBACK_XML)
    return [
        java_executable(),
        f"-Djava.library.path={home / LIB}",
        # A plain IPv4 socket: 127.0.0.1 then shows as such (not ::ffff:127.0.0.1).
        "-Djava.net.preferIPv4Stack=true",
        # Quick-starting JIT and GC: starts 2-5x faster; a test emulator needs no peak speed.
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-cp",
        str(home / JAR),
        "org.eclipse.jetty.xml.XmlConfiguration",
        f"dynamodb.port={port}",
        f"dynamodb.host={host}",
        str(xml),
    ]
