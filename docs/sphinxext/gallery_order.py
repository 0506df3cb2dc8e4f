"""Order of the gallery examples: the order in which the user guide teaches."""

TEACHING_ORDER = [
    "plot_datasets.py",
    "plot_choose_k.py",
    "plot_templates.py",
    "plot_hinge_vs_softmax.py",
    "plot_gradient_check.py",
    "plot_learning_curves.py",
    "plot_neural_net.py",
    "plot_grid_search_heatmap.py",
    "plot_augmentation.py",
    "plot_features.py",
]


class TeachingOrder:
    """Sort key for sphinx-gallery's ``within_subsection_order``.

    Examples missing from ``TEACHING_ORDER`` come last, by file name.
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in TEACHING_ORDER:
            return (TEACHING_ORDER.index(filename), filename)
        return (len(TEACHING_ORDER), filename)
