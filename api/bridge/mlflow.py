"""MLflow: one MLflow run per spectral-edge run, in the experiment named after its project, found
again by the tag `spectral_edge.run_id`; metrics go in batches, an alert is a 1.0 at its step on
its marker metric plus a tag with its message, and the run ends FINISHED or FAILED with ours."""

from __future__ import annotations

import time
from typing import Any

from api.bridge.sink import Point, RunView, alert_metric

RUN_TAG = "spectral_edge.run_id"
BATCH = 1000  # MLflow's limit of metrics per log_batch


class MlflowSink:
    """Mirrored runs in the MLflow tracking server at `tracking_uri`."""

    def __init__(self, tracking_uri: str) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.ids: dict[str, str] = {}

    def metrics(self, run: RunView, points: list[Point]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for step, values in points for k, v in values.items()]
        self._log(run, metrics)

    def alerts(self, run: RunView, alerts: list[dict[str, Any]]) -> None:
        from mlflow.entities import Metric, RunTag

        mlflow_run = self._run_id(run)
        markers = [
            Metric(alert_metric(a), 1.0, int(a["created_at"] * 1000), a["step"]) for a in alerts
        ]
        tags = [RunTag(f"spectral_edge.alert.{a['id']}", a["message"][:5000]) for a in alerts]
        self.client.log_batch(mlflow_run, metrics=markers, tags=tags)

    def finish(self, run: RunView) -> None:
        status = "FINISHED" if run.state == "finished" else "FAILED"
        self.client.set_terminated(self._run_id(run), status=status)
        self.ids.pop(run.run_id, None)

    def close(self) -> None:
        self.ids.clear()

    def _log(self, run: RunView, metrics: list[Any]) -> None:
        mlflow_run = self._run_id(run)
        for start in range(0, len(metrics), BATCH):
            self.client.log_batch(mlflow_run, metrics=metrics[start : start + BATCH])

    def _run_id(self, run: RunView) -> str:
        if run.run_id in self.ids:
            return self.ids[run.run_id]
        experiment = self.client.get_experiment_by_name(run.project)
        experiment_id = (
            experiment.experiment_id if experiment else self.client.create_experiment(run.project)
        )
        found = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{_quoted(run.run_id)}'"
        )
        if found:
            mlflow_run = found[0].info.run_id
        else:
            created = self.client.create_run(
                experiment_id, tags={RUN_TAG: run.run_id}, run_name=run.run_id
            )
            mlflow_run = created.info.run_id
            params = {k: str(v)[:6000] for k, v in run.config.items()}
            if params:
                self.client.log_batch(mlflow_run, params=_params(params))
        self.ids[run.run_id] = mlflow_run
        return mlflow_run


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _params(values: dict[str, str]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, v) for k, v in values.items()]
