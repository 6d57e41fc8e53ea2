"""Pure ``torch.nn.Module`` networks (no training logic, no scoring rules), and the backbones
that build them for a detector (:mod:`anomaly.networks.backbones`)."""

from anomaly.networks.classifier import ImageClassifier
from anomaly.networks.conv import ConvDecoder, ConvDiscriminator, ConvEncoder
from anomaly.networks.gan import GAN, VAEGAN, Discriminator
from anomaly.networks.masking import MaskBesideValuesEncoder, MissingValueEncoder
from anomaly.networks.mlp import MLP
from anomaly.networks.recurrent import GRUDecoder, GRUDiscriminator, GRUEncoder
from anomaly.networks.vae import VAE, VAEOutput

__all__ = [
    "GAN",
    "MLP",
    "VAE",
    "VAEGAN",
    "ConvDecoder",
    "ConvDiscriminator",
    "ConvEncoder",
    "Discriminator",
    "GRUDecoder",
    "GRUDiscriminator",
    "GRUEncoder",
    "ImageClassifier",
    "MaskBesideValuesEncoder",
    "MissingValueEncoder",
    "VAEOutput",
]
