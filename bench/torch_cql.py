#!/usr/bin/env python3
"""Training throughput of the same CQL update as bench_train.c, in PyTorch.

The network is the default Q-network (385 inputs, hidden [512, 256, 256],
ReLU, 2 linear outputs), and one step does what sr_cql_update does:
Double DQN targets from the online network's argmax on s' and the target
network's value, Huber (delta 1) TD loss plus alpha * mean(logsumexp Q(s,.)
- Q(s,a)), backward, Adam (lr 1e-4, betas 0.9/0.999, eps 1e-8) and a hard
target copy every 100 steps.  It is written the way a PyTorch user would:
the forward passes on s' run under torch.no_grad, so autograd records only
the forward on s.

Method and output match bench_train.c: random data, eight prepared batches
used in turn, a warm-up, then --reps timed runs of --steps steps; the median
run is printed as one line per setting:
  impl=pytorch batch=N threads=T steps_per_s=X samples_per_s=Y
"""
import argparse
import ctypes
import statistics
import sys
import time

import torch
import torch.nn.functional as F

BATCHES = 8  # prepared batches used in turn, as in bench_train.c


def find_openblas():
    """Return the OpenBLAS library PyTorch loaded, or None.

    Debian's PyTorch calls BLAS for Linear layers, and OpenBLAS keeps its own
    thread pool beside PyTorch's OpenMP threads, sized to every core unless
    told otherwise.  torch.set_num_threads does not resize it, so the
    benchmark sets both, or a "1 thread" run would use every core for sgemm.
    """
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            path = line.split()[-1]
            if "libopenblas" in path:
                return ctypes.CDLL(path)
    return None


def make_net(input_dim, models):
    return torch.nn.Sequential(
        torch.nn.Linear(input_dim, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, models))


def make_data(n, d, k, generator):
    states = torch.rand(BATCHES, n, d, generator=generator) * 2 - 1
    next_states = torch.rand(BATCHES, n, d, generator=generator) * 2 - 1
    actions = torch.randint(0, k, (BATCHES, n), generator=generator)
    rewards = torch.rand(BATCHES, n, generator=generator)
    terminal = (torch.rand(BATCHES, n, generator=generator) < 0.25).float()
    return states, next_states, actions, rewards, terminal


def run_setting(args, n, threads, openblas):
    torch.set_num_threads(threads)
    if openblas is not None:
        openblas.openblas_set_num_threads(threads)
    torch.manual_seed(42)
    online = make_net(args.input, args.models)
    target = make_net(args.input, args.models)
    target.load_state_dict(online.state_dict())
    for p in target.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.Adam(online.parameters(), lr=1e-4, betas=(0.9, 0.999),
                                 eps=1e-8, foreach=args.foreach)
    generator = torch.Generator().manual_seed(7)
    states, next_states, actions, rewards, terminal = make_data(
        n, args.input, args.models, generator)
    alpha, gamma = 1.0, 0.99
    step_count = 0

    def step(index):
        nonlocal step_count
        s, s2 = states[index], next_states[index]
        a, r, done = actions[index], rewards[index], terminal[index]

        with torch.no_grad():
            best = online(s2).argmax(dim=1, keepdim=True)
            next_q = target(s2).gather(1, best).squeeze(1)
            y = r + gamma * (1.0 - done) * next_q

        q = online(s)
        q_a = q.gather(1, a.unsqueeze(1)).squeeze(1)
        td = F.huber_loss(q_a, y, delta=1.0)
        cql = (torch.logsumexp(q, dim=1) - q_a).mean()
        loss = td + alpha * cql

        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step_count += 1
        if step_count % 100 == 0:
            target.load_state_dict(online.state_dict())

    index = 0
    rates = []
    for rep in range(-1, args.reps):
        steps = args.warmup if rep < 0 else args.steps
        start = time.perf_counter()
        for _ in range(steps):
            step(index)
            index = (index + 1) % BATCHES
        elapsed = time.perf_counter() - start
        if rep >= 0:
            rates.append(steps / elapsed)
    return statistics.median(rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="32,256", help="batch sizes, comma-separated")
    parser.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated")
    parser.add_argument("--steps", type=int, default=200, help="steps per timed run")
    parser.add_argument("--reps", type=int, default=5, help="timed runs; the median is printed")
    parser.add_argument("--warmup", type=int, default=30, help="untimed steps first")
    parser.add_argument("--input", type=int, default=385, help="input features D")
    parser.add_argument("--models", type=int, default=2, help="outputs K")
    parser.add_argument("--foreach", action="store_true",
                        help="use Adam's multi-tensor (foreach) implementation")
    args = parser.parse_args()

    # Load the BLAS now: PyTorch opens it lazily on the first matrix product.
    torch.nn.Linear(2, 2)(torch.zeros(2, 2))
    openblas = find_openblas()
    if openblas is None:
        print("torch_cql.py: PyTorch did not load OpenBLAS; its BLAS threads are not set",
              file=sys.stderr)

    for n in (int(x) for x in args.batch.split(",")):
        for threads in (int(x) for x in args.threads.split(",")):
            rate = run_setting(args, n, threads, openblas)
            print(f"impl=pytorch batch={n} threads={threads} steps_per_s={rate:.1f} "
                  f"samples_per_s={rate * n:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
