"""A quick load check of a running server (not a test): single-row requests, keep-alive clients.

    python tests/serving/load_check.py http://127.0.0.1:PORT MODEL --clients 8 --seconds 8

Sends one breast-cancer row per request (30 features) over the V2 path and MLflow's
/invocations and prints requests per second with p50/p99 latency; ``make bench`` is the full
comparison with MLflow and MLServer.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit

ROW = [17.99, 10.38, 122.8, 1001, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871, 1.095, 0.9053,
       8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003, 0.006193, 25.38, 17.33, 184.6,
       2019, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601, 0.1189]  # fmt: skip


def run(url: str, model: str, protocol: str, clients: int, seconds: float) -> str:
    """One load run; a line with the results."""
    parts = urlsplit(url)
    if protocol == "v2":
        path = f"/v2/models/{model}/infer"
        tensor = {"name": "input-0", "shape": [1, 30], "datatype": "FP64", "data": ROW}
        body = json.dumps({"inputs": [tensor]}).encode()
        headers: dict[str, str] = {}
    else:
        path, body = "/invocations", json.dumps({"instances": [ROW]}).encode()
        headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port)
        mine = []
        while (start := time.perf_counter()) < stop:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    n = len(latencies)
    return (
        f"{protocol:6} clients={clients}  {n / elapsed:7.0f} req/s  "
        f"p50 {latencies[n // 2] * 1000:.2f} ms  p99 {latencies[int(n * 0.99)] * 1000:.2f} ms"
    )


def main() -> None:
    """Run the checks named on the command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("model")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    for clients in args.clients:
        for protocol in ("v2", "mlflow"):
            print(run(args.url, args.model, protocol, clients, args.seconds), flush=True)


if __name__ == "__main__":
    main()
