"""Image data sources: built-in data sets (mnist, fashion-mnist, cifar10, cifar100), `folder:DIR` and
`annotations:FILE`.

Every source ends in the same place: one uint8 N,C,H,W tensor per split, decoded once (and cached on
disk for file sources), so that a batch is an index slice and normalisation / augmentation run on the
whole batch on the training device. torchvision and PIL are imported only inside these modules.
"""
