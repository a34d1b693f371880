"""The backbones :class:`~hpa_sklearn.HPAClassifier` can use (the table lives in the engine,
:mod:`hpa_sklearn._engine.backbones`; this module is its public face).

Examples
--------
>>> from hpa_sklearn.backbones import BACKBONES, get_backbone
>>> sorted(BACKBONES)
['densenet121', 'efficientnetv2b0', 'mobilenetv3small', 'resnet50', 'smallcnn', 'vgg16']
>>> get_backbone("densenet121").kernel_order
'rgb'
"""

from ._engine.backbones import (
    BACKBONES,
    IMAGENET_PIXEL_STD,
    YELLOW_INITS,
    Backbone,
    build_backbone,
    extend_first_kernel,
    get_backbone,
    small_cnn,
)

__all__ = ["BACKBONES", "IMAGENET_PIXEL_STD", "YELLOW_INITS", "Backbone", "build_backbone",
           "extend_first_kernel", "get_backbone", "small_cnn"]
