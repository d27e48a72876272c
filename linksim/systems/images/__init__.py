"""Image links: learned JSCC transceivers (DeepJSCC, DeepSC, SemCC, SemRE) and classical
BPG/JPEG + LDPC + QAM baselines, judged by PSNR, SSIM and a downstream classifier."""
