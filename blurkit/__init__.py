"""blurkit: realistic synthetic motion-blur pairs and honest scores for deblurring models."""

__version__ = "0.1.0"
