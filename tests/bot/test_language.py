"""A message clearly in another language is told so; English chat, however short or odd, never is."""

from __future__ import annotations

import pytest

from bot.language import other_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("¿Cuántos días de vacaciones me quedan este año?", "Spanish"),
        ("Wie viele Urlaubstage habe ich noch übrig?", "German"),
        ("Combien de jours de congé me reste-t-il cette année ?", "French"),
        ("有給休暇はあと何日残っていますか", "Japanese"),
        ("Сколько дней отпуска у меня осталось?", "Russian"),
    ],
)
def test_another_language_is_named(text: str, language: str) -> None:
    assert other_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "how many vacation days do I get",
        "ooo tmrw",
        "flip me a coin",
        "my luggage is missing",
        "request a tableau license please",
        "401k rollover help",
        "Traceback (most recent call last): KeyError: 'user_id'",
        "déjà vu, my laptop crashed again",
        "ok",
        "",
    ],
)
def test_english_and_short_messages_are_left_alone(text: str) -> None:
    assert other_language(text) is None


def test_the_same_message_always_gets_the_same_answer() -> None:
    text = "Quanto posso spendere per un albergo durante una trasferta di lavoro?"
    assert len({other_language(text) for _ in range(5)}) == 1
