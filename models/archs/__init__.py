"""Network architectures, one file each: the ``nn.Module`` classes and their frozen config dataclasses.

* :mod:`models.archs.deblurgan` — DeblurGAN's ResNet generator and PatchGAN critic;
* :mod:`models.archs.deblurganv2` — DeblurGAN-v2's FPN-MobileNetV2 generator and double-scale critic;
* :mod:`models.archs.svrnn` — the spatially variant RNN (its recurrence: :mod:`models.archs.scan`);
* :mod:`models.archs.nafnet` — NAFNet.

Nothing here knows about losses, training or checkpoint files: those are the model families'
(:mod:`models.families`).
"""
