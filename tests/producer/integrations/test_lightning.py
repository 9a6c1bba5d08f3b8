"""The Lightning callback inside a real `Trainer` on a tiny module, with gradient accumulation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

lightning = pytest.importorskip("lightning")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # lightning on a newer torch

from producer.integrations.lightning import SpectralEdgeCallback  # noqa: E402
from producer.sketch import CountSketch  # noqa: E402
from producer.wire import Kind  # noqa: E402

TIMINGS = {"SPECTRAL_EDGE_LINGER_MS": "0", "SPECTRAL_EDGE_RESEND_AFTER": "0.2"}


class Regressor(lightning.LightningModule):
    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        layers = [torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)]
        self.net = torch.nn.Sequential(*layers)
        self.fail_at = fail_at

    def training_step(self, batch: Any, index: int) -> torch.Tensor:
        if self.fail_at is not None and self.global_step >= self.fail_at:
            raise RuntimeError("diverged")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, index: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)


def loader(seed: int) -> torch.utils.data.DataLoader:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=generator)
    data = torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))
    return torch.utils.data.DataLoader(data, batch_size=8)


def trainer(tmp_path: Path, callback: SpectralEdgeCallback) -> Any:
    return lightning.Trainer(
        default_root_dir=tmp_path, max_steps=6, accumulate_grad_batches=2, val_check_interval=4,
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[callback],
    )  # fmt: skip


def test_lightning_run_is_watched(router: Any, tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = Regressor()
    callback = SpectralEdgeCallback(every=2, dim=16, seed=3, endpoint=router.endpoint,
                                    run_id="run-pl", env=TIMINGS)  # fmt: skip
    trainer(tmp_path, callback).fit(module, loader(1), loader(2))
    messages = router.received()
    assert messages[0].kind is Kind.START and messages[-1].body["status"] == "finished"
    sketches = [m for m in messages if m.kind is Kind.SKETCH]
    assert [(m.step, m.index) for m in sketches] == [(0, 0), (2, 1), (4, 2), (6, 3)]
    final = CountSketch(16, seed=3).sketch_parameters(module.named_parameters())
    np.testing.assert_allclose(sketches[-1].payload, final, rtol=1e-12)
    logged = [m.body["values"] for m in messages if m.kind is Kind.SCALARS]
    assert logged and all("val_loss" in values for values in logged)


def test_exception_marks_the_run_failed(router: Any, tmp_path: Path) -> None:
    callback = SpectralEdgeCallback(every=2, dim=16, endpoint=router.endpoint,
                                    run_id="run-pl-fail", env=TIMINGS)  # fmt: skip
    with pytest.raises(RuntimeError, match="diverged"):
        trainer(tmp_path, callback).fit(Regressor(fail_at=2), loader(1), loader(2))
    finish = [m for m in router.received() if m.kind is Kind.FINISH]
    assert [m.body["status"] for m in finish] == ["failed"]
