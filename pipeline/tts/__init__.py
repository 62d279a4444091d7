"""Text-to-speech (DESIGN.md §7): one synthesizer interface, engines registered by name
(``edge``, ``espeak``, ``recorded``, ``phrasebank``), a fallback chain per language, and a
cache keyed by what the speech depends on."""

from pipeline.tts._base import (
    Cue,
    EngineUnavailable,
    Speech,
    SpeechOptions,
    SpeechRequest,
    Synthesizer,
    Utterance,
)
from pipeline.tts._cache import SynthesisCache
from pipeline.tts._chain import (
    ENGINES,
    EngineDirs,
    Fallback,
    NoEngineSpoke,
    Synthesis,
    TextToSpeech,
)
from pipeline.tts._demo_bank import build_demo_phrasebank
from pipeline.tts._phrasebank import MissingPhrases, PhraseBank, PhrasebankEngine, PhrasebankError
from pipeline.tts._transcript import write_transcripts

__all__ = [
    "ENGINES",
    "Cue",
    "EngineDirs",
    "EngineUnavailable",
    "Fallback",
    "MissingPhrases",
    "NoEngineSpoke",
    "PhraseBank",
    "PhrasebankEngine",
    "PhrasebankError",
    "Speech",
    "SpeechOptions",
    "SpeechRequest",
    "Synthesis",
    "SynthesisCache",
    "Synthesizer",
    "TextToSpeech",
    "Utterance",
    "build_demo_phrasebank",
    "write_transcripts",
]
