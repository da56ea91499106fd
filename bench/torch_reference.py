"""PyTorch CPU reference for bench/kernels.ts: the same three networks, the same whole training step
(forward, backward, Adam update) at batch 128 on random 28x28x1 data, on 1 and 2 threads.

    python3 bench/torch_reference.py        # prints JSON: images/s per network and thread count

It also times bench/kernels.ts's single kernels at the same shapes on one thread (`conv2.forward` and
so on, images/s at batch 128), so the per-kernel gap between XNNPACK on wasm and PyTorch is measured
alongside the whole steps.

Debian's `python3-torch` is the reference the training-speed issue quotes. Run it in the same window
as `node dist/bench/kernels.js`: this machine is a shared VM, so only side-by-side figures compare.
"""
import json
import statistics
import sys
import time

import torch
from torch import nn

BATCH = 128


def seed_cnn(batch_norm: bool) -> nn.Module:
    layers: list[nn.Module] = []
    channels = 1
    for i, filters in enumerate([32, 64, 128]):
        if i > 0:
            layers.append(nn.MaxPool2d(2))
        layers.append(nn.Conv2d(channels, filters, 3, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(filters, momentum=0.1, eps=1e-5))
        layers.append(nn.ReLU())
        channels = filters
    layers += [nn.Flatten(), nn.Linear(1152, 128), nn.ReLU()]
    if batch_norm:
        layers.append(nn.Dropout(0.3))
    layers.append(nn.Linear(128, 10))
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    def __init__(self, filters: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(filters, filters, 3, padding=1, bias=False)
        self.bn_a = nn.BatchNorm2d(filters)
        self.b = nn.Conv2d(filters, filters, 3, padding=1, bias=False)
        self.bn_b = nn.BatchNorm2d(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn_a(self.a(x)))
        return torch.relu(self.bn_b(self.b(y)) + x)


def small_resnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), ResBlock(32),
        nn.MaxPool2d(2), ResBlock(32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


def median_rate(fn, reps: int = 7, warmup: int = 1) -> float:
    """Images/s of `fn` at batch BATCH: the median of `reps` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return BATCH / statistics.median(times)


def throughput(model: nn.Module, steps: int) -> float:
    torch.manual_seed(0)
    x = torch.rand(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    return median_rate(step, reps=steps, warmup=3)


def kernel_rates() -> dict[str, int]:
    """bench/kernels.ts's kernelThroughputs shapes (NCHW here): layer 1 28x28x1 -> 26x26x32, layer 2 13x13x32 -> 11x11x64."""
    torch.manual_seed(0)
    x1, dy1 = torch.randn(BATCH, 1, 28, 28), torch.randn(BATCH, 32, 26, 26)
    x2, w2, dy2 = torch.randn(BATCH, 32, 13, 13), torch.randn(64, 32, 3, 3), torch.randn(BATCH, 64, 11, 11)
    conv_grad = torch.nn.grad
    with torch.no_grad():
        return {
            "conv1.backprop_filter": round(median_rate(lambda: conv_grad.conv2d_weight(x1, (32, 1, 3, 3), dy1))),
            "conv2.forward": round(median_rate(lambda: torch.nn.functional.conv2d(x2, w2))),
            "conv2.backprop_input": round(median_rate(lambda: conv_grad.conv2d_input(x2.shape, w2, dy2))),
            "conv2.backprop_filter": round(median_rate(lambda: conv_grad.conv2d_weight(x2, w2.shape, dy2))),
        }


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    out: dict[str, object] = {"torch": torch.__version__}
    networks = {
        "seed_cnn": lambda: seed_cnn(False),
        "seed_cnn_batchnorm": lambda: seed_cnn(True),
        "resnet": small_resnet,
    }
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, build in networks.items():
            out[f"{name}.train_{threads}_thread"] = round(throughput(build(), steps))
    torch.set_num_threads(1)
    for name, rate in kernel_rates().items():
        out[f"{name}_1_thread"] = rate
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
