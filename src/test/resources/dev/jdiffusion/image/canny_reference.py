# Regenerates coins_canny.png, the reference for CannyTest, with Debian's python3-skimage (scikit-image 0.19.3):
#   /usr/bin/python3 canny_reference.py
# coins.png is scikit-image's skimage.data.coins(): Greek coins from Pompeii, Brooklyn Museum collection,
# "no known copyright restrictions" (skimage/data docstring).
import numpy as np, skimage, skimage.io, skimage.feature
img = skimage.io.imread("coins.png")                      # (303, 384) uint8
edges = skimage.feature.canny(img, sigma=2.0, low_threshold=20, high_threshold=50)  # thresholds on the 0..255 scale
skimage.io.imsave("coins_canny.png", (edges * 255).astype(np.uint8), check_contrast=False)
print(skimage.__version__, img.shape, int(edges.sum()), "edge pixels")
