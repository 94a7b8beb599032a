"""Score samples as Ray tasks and merge their states on the driver.

Each Ray task gets a fresh evaluator and one contiguous chunk of samples and
returns that chunk's state; the driver merges the states in chunk order, so
the result is the one a single process gives. A worker that dies mid-chunk
loses only its private state: Ray re-runs the task (``max_retries``) from a
fresh evaluator, so nothing is counted twice. Ray is an optional extra
(``pip install 'psalm-bench[ray]'``).
"""

from __future__ import annotations

import socket
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Sequence

from psalm_bench.progress import tqdm  # a bar on a terminal, lines in a log

from psalm_bench.errors import InputError

MAX_RETRIES = 3


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray needs Ray: pip install 'psalm-bench[ray]'") from None
    return ray


def _check_answers(address: str, timeout_s: float = 5.0) -> None:
    """A HOST:PORT that does not accept a connection is one clear line, fast."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise InputError(f"--address {address}: expected auto or HOST:PORT of a Ray head node")
    host = host.removeprefix("ray://")
    try:
        with socket.create_connection((host, int(port_text)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"--address {address}: no Ray cluster answers there ({reason})") from None


@dataclass
class Connection:
    ray: Any
    started_here: bool

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()


def connect(address: str | None, *, num_cpus: int | None = None) -> Connection:
    """Join the cluster at ``address`` (``auto``, ``HOST:PORT``), reuse the
    one this process already joined, or start a local one (``None``)."""
    ray = import_ray()
    if ray.is_initialized():
        return Connection(ray, False)
    if address not in (None, "auto", "local"):
        _check_answers(address)
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address in (None, "local"):
        kwargs.update(num_cpus=num_cpus, _node_ip_address="127.0.0.1")
    else:
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"--address {address}: cannot join the Ray cluster ({first})") from None
    return Connection(ray, True)


def _score_chunk(evaluator: Any, load: Any, chunk: Sequence[Any]) -> Any:
    # Ray hands numpy arrays over zero-copy and read-only: rebuild a writable twin.
    evaluator = evaluator.fresh()
    for sample in chunk:
        gt, pred = load(sample)
        evaluator.update(gt, pred)
    return evaluator


def unwrap(ray: Any, exc: BaseException) -> BaseException:
    """A task's InputError comes back as RayTaskError; give the user the original line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, InputError):
        return cause
    if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(exc, InputError):
        return InputError(exc.problem, file=exc.file, record=exc.record)
    return exc


def _chunks(n_items: int, n_chunks: int) -> list[tuple[int, int]]:
    n_chunks = max(1, min(n_chunks, n_items))
    return [((i * n_items) // n_chunks, ((i + 1) * n_items) // n_chunks) for i in range(n_chunks)]


@dataclass
class RayEngine:
    """``run_sharded`` engine: ``shards`` Ray tasks (default: 4 per cluster CPU)."""

    address: str | None = None
    shards: int | None = None
    gpus_per_worker: float = 0.0
    num_cpus: int | None = None  # only when starting a local cluster

    def run(self, evaluator: Any, samples: Sequence[Any], load: Any, *, desc: str, progress: bool, chunk_size: int | None) -> Any:
        if not samples:
            return evaluator
        conn = connect(self.address, num_cpus=self.num_cpus)
        ray = conn.ray
        try:
            n = self.shards or 4 * max(1, int(ray.cluster_resources().get("CPU", 1)))
            spans = _chunks(len(samples), n)
            remote = ray.remote(_score_chunk).options(max_retries=MAX_RETRIES, retry_exceptions=False, num_cpus=1, num_gpus=self.gpus_per_worker or 0)
            load_ref = ray.put(load)
            refs = [remote.remote(evaluator.fresh(), load_ref, samples[a:b]) for a, b in spans]
            index = {ref: i for i, ref in enumerate(refs)}
            states: list[Any] = [None] * len(refs)
            pending = list(refs)
            with tqdm(total=len(samples), desc=f"{desc} (ray)", unit="img", disable=not progress, leave=False, dynamic_ncols=True) as bar:
                while pending:
                    done, pending = ray.wait(pending, num_returns=1)
                    for ref in done:
                        i = index[ref]
                        try:
                            states[i] = ray.get(ref)
                        except Exception as exc:  # noqa: BLE001 - re-raised as the user's error
                            raise unwrap(ray, exc) from None
                        bar.update(spans[i][1] - spans[i][0])
            for state in states:  # chunk order: the one-process result
                evaluator.merge(state)
            return evaluator
        finally:
            conn.close()


class RayExecutor(Executor):
    """A ``concurrent.futures.Executor`` whose calls run as Ray tasks (with retries).

    For generators that already keep a bounded, ordered window of pool futures
    (``build-interactive``): swapping their process pool for this one moves the
    work onto the cluster and leaves the output byte-identical.
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None, gpus_per_worker: float = 0.0):
        self._conn = connect(address, num_cpus=num_cpus)
        self._gpus = gpus_per_worker
        self._remotes: dict[Any, Any] = {}

    @property
    def parallelism(self) -> int:
        """Cluster CPUs: how many calls can run at once."""
        return max(1, int(self._conn.ray.cluster_resources().get("CPU", 1)))

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        ray = self._conn.ray
        remote = self._remotes.get(fn)
        if remote is None:
            remote = self._remotes[fn] = ray.remote(fn).options(max_retries=MAX_RETRIES, retry_exceptions=False, num_cpus=1, num_gpus=self._gpus or 0)
        future: Future = Future()

        def done(inner: Future) -> None:
            try:
                future.set_result(inner.result())
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(unwrap(ray, exc))

        remote.remote(*args, **kwargs).future().add_done_callback(done)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Keeps the connection: one executor serves several passes (synth, then
        its COCO-Interactive); Ray disconnects when the process exits."""


class _PredictActor:
    """One model per Ray actor: loaded once, then batches in, outputs back."""

    def __init__(self, model: str, device: str, batch_size: int, threads: int):
        import torch

        from psalm_bench.model.predict import Predictor

        # CPU kernels split reductions by thread count: the driver's count gives its bits
        torch.set_num_threads(threads)
        self.predictor = Predictor.load(model, device=device, batch_size=batch_size, progress=False)

    def provenance(self) -> dict[str, Any]:
        return dict(self.predictor.provenance)

    def forward(self, samples: Sequence[Any]) -> list[Any]:
        return self.predictor.forward(samples)


def ray_predictor(model: str, *, address: str | None = None, batch_size: int = 8, progress: bool = True,
                  gpus_per_worker: float = 0.0, actors: int | None = None) -> Any:
    """A ``Predictor`` whose forward passes run on Ray actors (the model loaded once
    per actor); batches and the order outputs are consumed in are those of one
    process, so the prediction files are the same. An actor that dies is
    restarted and its pending batch retried."""
    from psalm_bench.model.predict import Predictor

    conn = connect(address)
    ray = conn.ray
    resources = ray.cluster_resources()
    if gpus_per_worker:
        if resources.get("GPU", 0) < gpus_per_worker:
            raise InputError(f"--gpus-per-worker {gpus_per_worker}: the cluster has {resources.get('GPU', 0):g} GPUs")
        n = actors or max(1, int(resources["GPU"] // gpus_per_worker))
    else:
        n = actors or max(1, int(resources.get("CPU", 1)))
    cls = ray.remote(_PredictActor).options(num_cpus=1, num_gpus=gpus_per_worker or 0, max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES)
    import torch

    pool = [cls.remote(model, "cuda" if gpus_per_worker else "cpu", batch_size, torch.get_num_threads()) for _ in range(n)]
    provenance = ray.get(pool[0].provenance.remote())

    class RayPredictor(Predictor):
        def forward(self, samples: Sequence[Any]) -> list[Any]:
            return ray.get(pool[0].forward.remote(list(samples)))

        def run(self, samples: Any, total: int, desc: str, consume: Any) -> None:
            bar = tqdm(total=total, desc=f"{desc} (ray, {n} actors)", unit="img", disable=not self.progress, leave=False)
            window: list[tuple[list[Any], Any]] = []
            batch: list[Any] = []
            turn = 0

            def submit() -> None:
                nonlocal turn
                window.append((list(batch), pool[turn % n].forward.remote(list(batch))))
                turn += 1
                batch.clear()

            def drain(keep: int) -> None:
                while len(window) > keep:  # in submission order: consume sees one process's order
                    done, ref = window.pop(0)
                    try:
                        outputs = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - the user's error, unwrapped
                        raise unwrap(ray, exc) from None
                    for sample, out in zip(done, outputs):
                        consume(sample, out)
                    bar.update(len(done))

            for sample in samples:
                batch.append(sample)
                if len(batch) == self.batch_size:
                    submit()
                    drain(2 * n)
            if batch:
                submit()
            drain(0)
            bar.close()

    return RayPredictor(None, None, provenance, batch_size, "ray", progress)
