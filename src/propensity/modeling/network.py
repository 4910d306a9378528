"""A small feed-forward network candidate in Keras, prepared in NumPy and saved as JSON + .keras.

TensorFlow is an optional extra: importing this module never imports it; fitting or loading
a :class:`KerasCandidate` does, and raises :class:`~propensity.errors.MissingExtraError` with
the install line when it is absent. :func:`keras_missing` says so up front without importing.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from propensity.errors import DataError, MissingExtraError
from propensity.modeling.candidates.base import (
    Candidate,
    Records,
    Setting,
    feature_columns,
    register,
)
from propensity.modeling.preparation import TabularPreparation

__all__ = ["KerasCandidate", "keras_missing"]

log = logging.getLogger(__name__)

TASKS = ("binary", "regression")
MISSING_REASON = 'keras skipped: TensorFlow is not installed; pip install "propensity[tensorflow]"'
#: rows scored per call of the network: bounds memory, amortises the call overhead
PREDICT_BATCH = 8192
#: sigmoid outputs saturate to exactly 0 or 1 in float32; keep them strictly inside so
#: logits and log losses downstream stay finite
EPS = 1e-7


def keras_missing() -> str | None:
    """Why the Keras candidate cannot run here, or None when it can.

    Only looks for TensorFlow (``importlib.util.find_spec``); nothing is imported.

    Returns
    -------
    str or None
        A one-line reason with the install line, or None when TensorFlow is installed.
    """
    return None if importlib.util.find_spec("tensorflow") is not None else MISSING_REASON


def _keras() -> Any:
    """Import Keras on the TensorFlow backend, quietly, or raise with the install line."""
    if keras_missing() is not None:
        raise MissingExtraError(MISSING_REASON.replace("keras skipped", "keras"))
    # TensorFlow logs its CPU feature banner to stderr unless told not to; the user may
    # still choose otherwise by setting these before we run
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # predicting frames of many sizes makes tf.function log "triggered tf.function
    # retracing" warnings that say nothing a user can act on
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # TensorFlow's own imports raise deprecations users cannot act on
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module("keras")


def _limit_threads(threads: int | None) -> None:
    """Run TensorFlow's kernels on ``threads`` threads (``[engine] threads``).

    TensorFlow takes the setting only before its runtime starts; once it has, the first
    setting stays for the life of the process, which is what one process wants anyway.
    """
    if threads is None:
        return
    tf: Any = importlib.import_module("tensorflow")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    except RuntimeError:  # the runtime has started: the earlier setting holds
        log.debug("tensorflow threads already set; keeping them")


def _labels(frame: pd.DataFrame, task: str) -> np.ndarray:
    y = frame["label"].to_numpy(dtype=np.float64)
    if np.isnan(y).any():
        raise DataError("train: rows without a label cannot be trained on; drop them first")
    if task == "binary" and not np.isin(y, (0.0, 1.0)).all():
        bad = sorted(set(np.unique(y).tolist()) - {0.0, 1.0})[:5]
        raise DataError(
            f"train: the binary task needs labels 0 or 1; found {bad}; "
            "use task='regression' for amounts"
        )
    return y


@register
class KerasCandidate(Candidate):
    """A feed-forward network: ReLU layers with dropout, early-stopped on a later cutoff.

    The preparation (:class:`~propensity.modeling.preparation.TabularPreparation` with a
    signed ``log1p``, in float32: median imputation with missing flags, scaling, one-hot of
    frequent text levels) is NumPy, so it is saved as JSON next to the network, which
    holds nothing but dense layers.

    Unlike the other candidates the network does not refit on ``train`` and ``valid``
    together: it keeps the weights of the epoch that scored best on ``valid``.

    Parameters
    ----------
    key
        The entity key column.
    task
        ``"binary"``: a sigmoid output trained on cross-entropy, predicting probabilities
        (unweighted; calibrate them before reading them as rates). ``"regression"``: a
        linear output trained on squared error of the standardised label, predicting amounts.
    hidden
        Units of each hidden layer.
    dropout
        Dropout rate after each hidden layer.
    learning_rate
        Adam's learning rate.
    batch_size
        Rows per gradient step.
    max_epochs
        Most passes over the training rows.
    patience
        Epochs without improvement on the stopping rows before training stops.
    seed
        Seeds the subsample, the stopping split, the initial weights, dropout and shuffling.
    max_rows
        Train on a uniform sample of this many rows when there are more (None: all).
    """

    name = "keras"
    tasks = TASKS
    complexity = 5
    #: levels of a text column kept by name; rarer, unseen and missing ones share "other"
    max_levels = 20
    min_count = 20

    def __init__(
        self,
        *,
        key: str,
        task: str = "binary",
        hidden: tuple[int, ...] = (64, 32),
        dropout: float = 0.2,
        learning_rate: float = 1e-3,
        batch_size: int = 1024,
        max_epochs: int = 50,
        patience: int = 5,
        seed: int = 0,
        max_rows: int | None = 300_000,
        threads: int | None = None,
    ) -> None:
        super().__init__(key=key)
        #: None: TensorFlow's default (all cores); training passes ``[engine] threads``
        self.threads = threads
        self.task = task
        self.hidden = tuple(hidden)
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.seed = seed
        self.max_rows = max_rows

    @classmethod
    def make(cls, setting: Setting) -> Candidate | str:
        """The network for the project's task, or why TensorFlow cannot run it."""
        missing = keras_missing()
        if missing is not None:
            return missing.removeprefix("keras skipped: ")
        return cls(key=setting.key, task=setting.task, seed=setting.seed, threads=setting.threads)

    def fit_round(
        self, train: pd.DataFrame, inner: pd.DataFrame, stop: pd.DataFrame | None
    ) -> KerasCandidate:
        """Keep the best epoch on ``stop``, learning from ``inner``."""
        return self.fit(train) if stop is None else self.fit(inner, stop)

    # -- preparation ------------------------------------------------------------------

    def _learn_preparation(self, rows: pd.DataFrame) -> None:
        cols = feature_columns(rows, self.key)
        if not cols:
            raise DataError("train: the frame has no feature columns besides the key and label")
        self.preparation_ = TabularPreparation.fit(
            rows,
            cols,
            max_levels=self.max_levels,
            min_count=self.min_count,
            log1p=True,
            dtype="float32",
        )

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        """The network's input: scaled numeric columns and flags, then one-hot text levels."""
        return self.preparation_.transform(frame)

    # -- network ----------------------------------------------------------------------

    def _build(self, keras: Any, width: int) -> Any:
        inputs = keras.Input(shape=(width,), dtype="float32")
        x = inputs
        for units in self.hidden:
            x = keras.layers.Dense(units, activation="relu")(x)
            if self.dropout > 0:
                x = keras.layers.Dropout(self.dropout)(x)
        activation = "sigmoid" if self.task == "binary" else "linear"
        outputs = keras.layers.Dense(1, activation=activation)(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=self.learning_rate),
            loss="binary_crossentropy" if self.task == "binary" else "mean_squared_error",
        )
        return model

    def _target(self, y: np.ndarray) -> np.ndarray:
        if self.task == "binary":
            return y.astype(np.float32)
        return ((y - self.target_mean_) / self.target_scale_).astype(np.float32)

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> KerasCandidate:
        """Learn the preparation on ``train``, then train the network with early stopping.

        Training stops once the loss on ``valid`` (a later cutoff whose label window no
        training window reaches) has not improved for ``patience`` epochs, and the weights
        of the best epoch are kept; without ``valid``, a random tenth of ``train`` plays
        its part.

        Parameters
        ----------
        train
            Training rows: key, ``cutoff``, ``label``, then features.
        valid
            Rows of a later cutoff to stop on, or None.

        Returns
        -------
        KerasCandidate
            ``self``, fitted.
        """
        if self.task not in TASKS:
            raise DataError(f"train: unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if not len(train):
            raise DataError("train: no training rows")
        keras = _keras()
        _limit_threads(self.threads)
        rng = np.random.default_rng(self.seed)
        if self.max_rows is not None and len(train) > self.max_rows:
            picked = np.sort(rng.choice(len(train), size=self.max_rows, replace=False))
            train = train.iloc[picked]
        y = _labels(train, self.task)
        stop: pd.DataFrame | None = valid if valid is not None and len(valid) else None
        fit_rows = np.arange(len(train))
        stop_rows = np.zeros(0, dtype=np.int64)
        if stop is None and len(train) >= 20:
            shuffled = rng.permutation(len(train))
            cut = len(train) // 10
            stop_rows, fit_rows = np.sort(shuffled[:cut]), np.sort(shuffled[cut:])

        self._learn_preparation(train)
        if self.task == "regression":
            self.target_mean_ = float(y[fit_rows].mean())
            spread = float(y[fit_rows].std())
            self.target_scale_ = spread if spread > 0 else 1.0
        x = self._design(train)
        x_fit, y_fit = x[fit_rows], self._target(y[fit_rows])
        if stop is not None:
            x_stop, y_stop = self._design(stop), self._target(_labels(stop, self.task))
        else:
            x_stop, y_stop = x[stop_rows], self._target(y[stop_rows])
        del x

        keras.utils.set_random_seed(self.seed)
        model = self._build(keras, x_fit.shape[1])
        callbacks = []
        early = None
        if len(y_stop):
            early = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True
            )
            callbacks.append(early)
        model.fit(
            x_fit,
            y_fit,
            validation_data=(x_stop, y_stop) if len(y_stop) else None,
            batch_size=self.batch_size,
            epochs=self.max_epochs,
            shuffle=True,
            callbacks=callbacks,
            verbose=0,
        )
        self.epochs_ = int(early.best_epoch) + 1 if early is not None else self.max_epochs
        self.model_ = model
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities for the binary task, amounts for regression, one per row."""
        return self._predict_design(self._design(frame))

    def score_records(self, records: Records) -> np.ndarray:
        """The shared preparation in NumPy on a few records, then the network."""
        prep = self.preparation_
        numbers = records.numbers(prep.numeric)
        return self._predict_design(
            prep.design(numbers, [records.texts(c) for c in prep.categorical])
        )

    def features(self) -> list[str]:
        """Numeric then text features, as the preparation reads them."""
        return self.preparation_.columns

    def _predict_design(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0)
        out = np.asarray(
            self.model_.predict(x, batch_size=PREDICT_BATCH, verbose=0), dtype=np.float64
        ).ravel()
        if self.task == "binary":
            return np.clip(out, EPS, 1.0 - EPS)
        return out * self.target_scale_ + self.target_mean_

    # -- persistence ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Parameters and preparation as JSON-ready data; the weights go to :meth:`save_model`."""
        data: dict[str, Any] = {
            "name": self.name,
            "key": self.key,
            "task": self.task,
            "hidden": list(self.hidden),
            "dropout": self.dropout,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "seed": self.seed,
            "max_rows": self.max_rows,
            **self.preparation_.to_dict(),
            "epochs": self.epochs_,
        }
        if self.task == "regression":
            data["target_mean"] = self.target_mean_
            data["target_scale"] = self.target_scale_
        return data

    def native_files(self) -> dict[str, bytes]:
        """The network in Keras's native ``.keras`` format."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            self.save_model(path)
            return {"model.keras": path.read_bytes()}

    @classmethod
    def load(cls, data: dict[str, Any], files: Mapping[str, bytes], folder: Path) -> Candidate:
        """Rebuild from ``model.json`` and the verified ``model.keras`` beside it."""
        return cls.from_file(data, folder / "model.keras")

    def save_model(self, path: Path) -> None:
        """Write the network in Keras's native ``.keras`` format (config and weights, no pickle).

        Parameters
        ----------
        path
            Where to write; the name must end in ``.keras``.
        """
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"save_model: {path} must end in '.keras' (Keras's native format)")
        with warnings.catch_warnings():
            # Keras 3 turns TensorFlow variables into arrays the NumPy 1 way; harmless
            warnings.filterwarnings(
                "ignore", "__array__ implementation doesn't accept a copy", DeprecationWarning
            )
            self.model_.save(path)

    @classmethod
    def from_file(cls, data: dict[str, Any], model_path: Path) -> KerasCandidate:
        """Rebuild a fitted model from :meth:`to_dict` and the file :meth:`save_model` wrote.

        Parameters
        ----------
        data
            What :meth:`to_dict` returned (after a JSON round trip or not).
        model_path
            The ``.keras`` file.

        Returns
        -------
        KerasCandidate
            A model that predicts as the saved one did.
        """
        keras = _keras()
        max_rows = data["max_rows"]
        model = cls(
            key=data["key"],
            task=data["task"],
            hidden=tuple(int(u) for u in data["hidden"]),
            dropout=float(data["dropout"]),
            learning_rate=float(data["learning_rate"]),
            batch_size=int(data["batch_size"]),
            max_epochs=int(data["max_epochs"]),
            patience=int(data["patience"]),
            seed=int(data["seed"]),
            max_rows=None if max_rows is None else int(max_rows),
        )
        # the network always compresses tails; bundles before 0.2 did not say so
        model.preparation_ = TabularPreparation.from_dict(data, log1p=True, dtype="float32")
        model.epochs_ = int(data["epochs"])
        if model.task == "regression":
            model.target_mean_ = float(data["target_mean"])
            model.target_scale_ = float(data["target_scale"])
        model.model_ = keras.models.load_model(Path(model_path), compile=False)
        return model
