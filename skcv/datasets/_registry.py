"""Where each data set file is downloaded from, and its pinned SHA-256.

The checksums are those published with TensorFlow Datasets' download
manifests (``url_checksums/mnist.txt`` and ``fashion_mnist.txt``) and with
Keras' CIFAR loaders (``file_hash`` of ``cifar10.py`` and ``cifar100.py``).
They are the digests of the unmodified files the authors distribute: every
MNIST mirror below serves the same bytes (their MD5s, as pinned by
torchvision, agree as well).
"""

from typing import NamedTuple


class RemoteFile(NamedTuple):
    """A file of a data set: its name, the URLs tried in order, its SHA-256."""

    filename: str
    urls: tuple
    sha256: str


def _mirrored(filename, mirrors, sha256):
    return RemoteFile(filename, tuple(m + filename for m in mirrors), sha256)


# LeCun's page, the original home of MNIST, is often unreachable, so the copies
# kept by PyTorch (the first mirror torchvision tries) and by Google's CVDF
# bucket (the one TensorFlow uses) come first.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# Zalando's bucket is only served over plain HTTP; the pinned checksum is what
# guarantees the content.
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

CIFAR_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)

# Keyed by data set (also the name of its folder under the data home), then by
# file name. The loaders look entries up at call time.
REMOTE_FILES = {
    "mnist": {
        f.filename: f
        for f in (
            _mirrored(
                "train-images-idx3-ubyte.gz",
                MNIST_MIRRORS,
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            _mirrored(
                "train-labels-idx1-ubyte.gz",
                MNIST_MIRRORS,
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
            _mirrored(
                "t10k-images-idx3-ubyte.gz",
                MNIST_MIRRORS,
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            _mirrored(
                "t10k-labels-idx1-ubyte.gz",
                MNIST_MIRRORS,
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        )
    },
    "fashion_mnist": {
        f.filename: f
        for f in (
            _mirrored(
                "train-images-idx3-ubyte.gz",
                FASHION_MNIST_MIRRORS,
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            ),
            _mirrored(
                "train-labels-idx1-ubyte.gz",
                FASHION_MNIST_MIRRORS,
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            ),
            _mirrored(
                "t10k-images-idx3-ubyte.gz",
                FASHION_MNIST_MIRRORS,
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            ),
            _mirrored(
                "t10k-labels-idx1-ubyte.gz",
                FASHION_MNIST_MIRRORS,
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
        )
    },
    "cifar10": {
        "cifar-10-python.tar.gz": _mirrored(
            "cifar-10-python.tar.gz",
            CIFAR_MIRRORS,
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        ),
    },
    "cifar100": {
        "cifar-100-python.tar.gz": _mirrored(
            "cifar-100-python.tar.gz",
            CIFAR_MIRRORS,
            "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        ),
    },
}
