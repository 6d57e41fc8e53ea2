"""Dataset loaders with checksummed files in a data directory and an upstream download path.

The data directory is the ``data_home`` argument, else the ``ANOMALY_DATA``
environment variable, else ``~/anomaly_data``; files sit under it as in the
catalogue (``datasets/README.md``), e.g. ``adbench/4_breastw.npz``.
"""

from anomaly.datasets._store import DATA_HOME_ENV, dataset_path, fetch, get_data_home, registry
from anomaly.datasets.embedded import load_embedded, make_clusters
from anomaly.datasets.images import (
    FASHION_MNIST_CLASSES,
    MAGNETIC_TILE_DEFECTS,
    MNIST_CLASSES,
    load_fashion_mnist,
    load_magnetic_tile,
    load_mnist,
    read_idx,
    read_image,
    read_images,
)
from anomaly.datasets.tabular import ADBENCH_DATASETS, ODDS_DATASETS, load_adbench, load_odds
from anomaly.datasets.timeseries import (
    asd_entities,
    load_asd,
    load_interpretation,
    load_nab,
    load_smd,
    nab_series,
    smd_machines,
)

__all__ = [
    "ADBENCH_DATASETS",
    "DATA_HOME_ENV",
    "FASHION_MNIST_CLASSES",
    "MAGNETIC_TILE_DEFECTS",
    "MNIST_CLASSES",
    "ODDS_DATASETS",
    "asd_entities",
    "dataset_path",
    "fetch",
    "get_data_home",
    "load_adbench",
    "load_asd",
    "load_embedded",
    "load_fashion_mnist",
    "load_interpretation",
    "load_magnetic_tile",
    "load_mnist",
    "load_nab",
    "load_odds",
    "load_smd",
    "make_clusters",
    "nab_series",
    "read_idx",
    "read_image",
    "read_images",
    "registry",
    "smd_machines",
]
