"""Masked VQ-VAE robust semantic communication (Hu, Zhang, Qin, Cai, Yu, Li).

Paper: ``../shared/papers/masked-vqvae-robust.md``. Built so far (issue 12, in parts):

* :mod:`.system`: the registered ``masked_vqvae`` system; :mod:`.params`: its ``params:`` and
  ``training:`` blocks and the checks of sweep points;
* :mod:`.symbols`: Table I as exact arithmetic (symbols per image of each scheme);
* :mod:`.codebook`: the shared discrete codebook (eq. 11 nearest neighbour, straight-through
  gradients, eq. 12 codebook/commitment terms, the orthogonality term of Fig. 10);
* :mod:`.index_link`: codebook indices as bits on uncoded Gray 16-QAM over any linksim channel;
* :mod:`.masking`: patch masking (random as in MAE, and the noise-map variant) with an exact
  keep count, regenerated at the receiver from a shared seed;
* :mod:`.probes`: Figs. 9-11(a)'s measurements: activation frequency per feature, the codebook's
  cosine similarities (heat maps through :mod:`linksim.matrices`), retrieval recall@1;
* the MAE pre-training (``params.pretrain``): :class:`.networks.MaskedAutoencoder` learns image
  reconstruction first (:func:`.training.train_masked_autoencoder`), the task then starts from
  its encoder and codebook (:func:`.networks.transfer_pretrained`);
* training on the noise map (Algorithm 3 step 2, ``noise_map.train_temperature``,
  :class:`.training.NoiseMapMasking`), Algorithm 3's interleaved passes (``schedule``,
  :func:`.training.interleaved_passes`) and eq. (17)'s similarity loss (:mod:`.losses`);
* Fig. 11(b): :class:`.networks.ReconstructionDecoder`, an MAE-style decoder from the received
  tokens to pixels, trained after the classifier with it frozen
  (:func:`.training.train_reconstruction_decoder`; from the pre-training decoder when the
  model was pre-trained, else from scratch), for the metrics ``psnr``/``ssim``/``mse`` and
  ``samples:``.

The attacks (eq. 7, Algorithms 1-2) live in :mod:`linksim.adversarial`, for every learned
image system.
"""
