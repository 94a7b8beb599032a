"""COCO's category tables for the synthetic workloads: the 80 things and 53 stuff
categories of COCO panoptic, with their ids, names and supercategories."""

from __future__ import annotations

from typing import Any




# COCO's 80 thing categories: (id, name, supercategory), ids 1..90 with COCO's gaps.
THING_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"),
    (4, "motorcycle", "vehicle"), (5, "airplane", "vehicle"), (6, "bus", "vehicle"),
    (7, "train", "vehicle"), (8, "truck", "vehicle"), (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"),
    (13, "stop sign", "outdoor"), (14, "parking meter", "outdoor"), (15, "bench", "outdoor"),
    (16, "bird", "animal"), (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"),
    (20, "sheep", "animal"), (21, "cow", "animal"), (22, "elephant", "animal"),
    (23, "bear", "animal"), (24, "zebra", "animal"), (25, "giraffe", "animal"),
    (27, "backpack", "accessory"), (28, "umbrella", "accessory"), (31, "handbag", "accessory"),
    (32, "tie", "accessory"), (33, "suitcase", "accessory"), (34, "frisbee", "sports"),
    (35, "skis", "sports"), (36, "snowboard", "sports"), (37, "sports ball", "sports"),
    (38, "kite", "sports"), (39, "baseball bat", "sports"), (40, "baseball glove", "sports"),
    (41, "skateboard", "sports"), (42, "surfboard", "sports"), (43, "tennis racket", "sports"),
    (44, "bottle", "kitchen"), (46, "wine glass", "kitchen"), (47, "cup", "kitchen"),
    (48, "fork", "kitchen"), (49, "knife", "kitchen"), (50, "spoon", "kitchen"),
    (51, "bowl", "kitchen"), (52, "banana", "food"), (53, "apple", "food"),
    (54, "sandwich", "food"), (55, "orange", "food"), (56, "broccoli", "food"),
    (57, "carrot", "food"), (58, "hot dog", "food"), (59, "pizza", "food"), (60, "donut", "food"),
    (61, "cake", "food"), (62, "chair", "furniture"), (63, "couch", "furniture"),
    (64, "potted plant", "furniture"), (65, "bed", "furniture"), (67, "dining table", "furniture"),
    (70, "toilet", "furniture"), (72, "tv", "electronic"), (73, "laptop", "electronic"),
    (74, "mouse", "electronic"), (75, "remote", "electronic"), (76, "keyboard", "electronic"),
    (77, "cell phone", "electronic"), (78, "microwave", "appliance"), (79, "oven", "appliance"),
    (80, "toaster", "appliance"), (81, "sink", "appliance"), (82, "refrigerator", "appliance"),
    (84, "book", "indoor"), (85, "clock", "indoor"), (86, "vase", "indoor"),
    (87, "scissors", "indoor"), (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"),
    (90, "toothbrush", "indoor"),
)

# COCO panoptic's 53 stuff categories: ids 92..200 with gaps.
STUFF_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (92, "banner", "textile"), (93, "blanket", "textile"), (95, "bridge", "building"),
    (100, "cardboard", "raw-material"), (107, "counter", "furniture-stuff"),
    (109, "curtain", "textile"), (112, "door-stuff", "furniture-stuff"),
    (118, "floor-wood", "floor"), (119, "flower", "plant"), (122, "fruit", "food-stuff"),
    (125, "gravel", "ground"), (128, "house", "building"), (130, "light", "furniture-stuff"),
    (133, "mirror-stuff", "furniture-stuff"), (138, "net", "structural"),
    (141, "pillow", "textile"), (144, "platform", "ground"), (145, "playingfield", "ground"),
    (147, "railroad", "ground"), (148, "river", "water"), (149, "road", "ground"),
    (151, "roof", "building"), (154, "sand", "ground"), (155, "sea", "water"),
    (156, "shelf", "furniture-stuff"), (159, "snow", "ground"), (161, "stairs", "furniture-stuff"),
    (166, "tent", "building"), (168, "towel", "textile"), (171, "wall-brick", "wall"),
    (175, "wall-stone", "wall"), (176, "wall-tile", "wall"), (177, "wall-wood", "wall"),
    (178, "water-other", "water"), (180, "window-blind", "window"),
    (181, "window-other", "window"), (184, "tree-merged", "plant"),
    (185, "fence-merged", "structural"), (186, "ceiling-merged", "ceiling"),
    (187, "sky-other-merged", "sky"), (188, "cabinet-merged", "furniture-stuff"),
    (189, "table-merged", "furniture-stuff"), (190, "floor-other-merged", "floor"),
    (191, "pavement-merged", "ground"), (192, "mountain-merged", "solid"),
    (193, "grass-merged", "plant"), (194, "dirt-merged", "ground"),
    (195, "paper-merged", "raw-material"), (196, "food-other-merged", "food-stuff"),
    (197, "building-other-merged", "building"), (198, "rock-merged", "solid"),
    (199, "wall-other-merged", "wall"), (200, "rug-merged", "textile"),
)

SEMANTIC_IGNORE = 255


def categories_instances() -> list[dict[str, Any]]:
    """COCO instances ``categories``: the 80 things."""
    return [{"id": i, "name": n, "supercategory": s} for i, n, s in THING_CATEGORIES]


def categories_panoptic() -> list[dict[str, Any]]:
    """COCO panoptic ``categories``: 80 things then 53 stuff, sorted by id."""
    things = [{"id": i, "name": n, "supercategory": s, "isthing": 1} for i, n, s in THING_CATEGORIES]
    stuff = [{"id": i, "name": n, "supercategory": s, "isthing": 0} for i, n, s in STUFF_CATEGORIES]
    return things + stuff


def semantic_classes() -> list[str]:
    """Semantic class names; index i is the i-th panoptic category."""
    return [c["name"] for c in categories_panoptic()]
