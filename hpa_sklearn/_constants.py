"""The domain's names, at the bottom of the library (no imports): the 28 classes, the four stain
channels, the colours the HPA displays them in, and the smallest image side."""

# The competition's class names; the index is the class id used in ``Target`` columns.
CLASS_NAMES = (
    "Nucleoplasm",
    "Nuclear membrane",
    "Nucleoli",
    "Nucleoli fibrillar center",
    "Nuclear speckles",
    "Nuclear bodies",
    "Endoplasmic reticulum",
    "Golgi apparatus",
    "Peroxisomes",
    "Endosomes",
    "Lysosomes",
    "Intermediate filaments",
    "Actin filaments",
    "Focal adhesion sites",
    "Microtubules",
    "Microtubule ends",
    "Cytokinetic bridge",
    "Mitotic spindle",
    "Microtubule organizing center",
    "Centrosome",
    "Lipid droplets",
    "Plasma membrane",
    "Cell junctions",
    "Mitochondria",
    "Aggresome",
    "Cytosol",
    "Cytoplasmic bodies",
    "Rods & rings",
)

N_CLASSES = len(CLASS_NAMES)

# Channel order of every image array in the library (last axis); names are the Kaggle file suffixes.
# green: the protein of interest; blue: nucleus; red: microtubules; yellow: endoplasmic reticulum.
CHANNELS = ("red", "green", "blue", "yellow")

# The smallest side VGG16 accepts (five 2x2 poolings).
MIN_IMAGE_SIZE = 32

# The colour (R, G, B weights) in which the HPA displays each stain: yellow light is red + green.
HPA_DISPLAY_COLOURS = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (0.5, 0.5, 0.0),
}
