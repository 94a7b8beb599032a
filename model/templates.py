"""PSALM's prompt templates: the fixed text around every instruction.

Apart from the sequence builder (samples.py) so that the tokenizer, which
must give every template word an id, reads them without importing samples.py
(which imports the tokenizer).
"""

from __future__ import annotations

SYSTEM = (
    "[INST] <<SYS>>\nYou are a helpful language and vision assistant. You are able to understand the visual "
    "content that the user provides, and assist the user with a variety of tasks using natural language.\n"
    "<</SYS>>\n\nThis is an image "
)
INSTRUCTION = {
    "panoptic": ", Please do Panoptic Segmentation.\nThis is all the candidate categories: ",
    "instance": ", Please do Panoptic Segmentation.\nThis is all the candidate categories: ",
    "semantic": ", Please do Semantic Segmentation.\nThis is all the candidate categories: ",
    "referring": ", Please doing Referring Segmentation according to the following instruction:\n",
    "interactive": ", Please segment by given regions\nThis is all regions:  ",
}
SEPARATOR = ", "
LIST_END = ".\n"
ANSWER = " [/INST] \nSure, the segmentation result is "
ANSWER_INTERACTIVE = " [/INST] \n[SEG]"
BACKGROUND = "background"
TEMPLATE_TEXTS = [SYSTEM, *INSTRUCTION.values(), SEPARATOR, LIST_END, ANSWER, ANSWER_INTERACTIVE, BACKGROUND]
