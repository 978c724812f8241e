"""Speaker names from data (extraction/speakers.py) on crafted transcripts and feeds."""

from __future__ import annotations

from podbrief.extraction.speakers import feed_people, name_speakers
from podbrief.formats.transcripts import Segment


def turns(*spoken: tuple[str, str]) -> list[Segment]:
    return [Segment(5.0 * n, 5.0 * n + 4, text, label) for n, (label, text) in enumerate(spoken)]


INTERVIEW = turns(("SPEAKER_00", "Hello and welcome to the show."), ("SPEAKER_01", "Glad to be here."),
                  ("SPEAKER_00", "So tell us about batteries."), ("SPEAKER_01", "Well, they store energy."))


def test_persons_with_roles_name_the_opening_voice_host_and_the_other_guest():
    episode = {"persons": [{"name": "Alice Smith", "role": "host"}, {"name": "Bob Lee", "role": "guest"}]}
    assert name_speakers(INTERVIEW, episode) == {"SPEAKER_00": "Alice Smith", "SPEAKER_01": "Bob Lee"}


def test_title_and_description_introduce_the_guest():
    assert feed_people({"title": "Batteries, with Jane Doe"}) == ([], ["Jane Doe"])
    assert feed_people({"description": "Jane Doe joins us to talk storage."}) == ([], ["Jane Doe"])
    assert name_speakers(INTERVIEW, {"title": "Episode 4: Jane Doe joins us"}) == {
        "SPEAKER_00": "the host", "SPEAKER_01": "Jane Doe"}


def test_a_handover_names_the_next_voice_and_a_thank_you_the_previous_one():
    spoken = turns(("SPEAKER_00", "Today we talk storage. Welcome, Jane."), ("SPEAKER_01", "Thanks for having me."),
                   ("SPEAKER_00", "What is new?"), ("SPEAKER_02", "Quite a lot."),
                   ("SPEAKER_00", "Omar, thank you. And Jane?"), ("SPEAKER_01", "I agree."))
    episode = {"persons": [{"name": "Alice Smith", "role": "host"}, {"name": "Jane Doe", "role": "guest"},
                           {"name": "Omar Haddad", "role": "guest"}]}
    assert name_speakers(spoken, episode) == {
        "SPEAKER_00": "Alice Smith", "SPEAKER_01": "Jane Doe", "SPEAKER_02": "Omar Haddad"}
    # with no feed data, speech alone names the voices it addresses
    assert name_speakers(spoken, None) == {"SPEAKER_00": "the host", "SPEAKER_01": "Jane", "SPEAKER_02": "Omar"}


def test_the_one_voice_left_gets_the_one_listed_person_left_and_only_then():
    spoken = turns(("SPEAKER_00", "Today: standards in care. Jane Doe, your question."), ("SPEAKER_01", "Why not?"),
                   ("SPEAKER_02", "Because the provinces run care homes."), ("SPEAKER_01", "They failed."))
    episode = {"persons": [{"name": "Alice Smith", "role": "host"}, {"name": "Jane Doe", "role": "guest"},
                           {"name": "Omar Haddad", "role": "guest"}]}
    assert name_speakers(spoken, episode) == {
        "SPEAKER_00": "Alice Smith", "SPEAKER_01": "Jane Doe", "SPEAKER_02": "Omar Haddad"}
    extra = [*spoken, *turns(("SPEAKER_03", "May I add something?"))]  # a voice more than the feed lists
    assert name_speakers(extra, episode) == {
        "SPEAKER_00": "Alice Smith", "SPEAKER_01": "Jane Doe", "SPEAKER_02": "a guest", "SPEAKER_03": "a guest"}
    described = {"description": "With Jane Doe and Omar Haddad."}  # names the notes mention need not speak
    assert name_speakers(spoken, described)["SPEAKER_02"] == "a guest"
    cold_open = turns(("SPEAKER_00", "I'm Jane Doe, and this is my story."), ("SPEAKER_01", "Welcome, everyone."),
                      ("SPEAKER_02", "Thanks."))
    guests_only = {"persons": [{"name": "Jane Doe", "role": "guest"}, {"name": "Omar Haddad", "role": "guest"}]}
    assert name_speakers(cold_open, guests_only) == {  # a guest opens: which other voice hosts is not known
        "SPEAKER_00": "Jane Doe", "SPEAKER_01": "a guest", "SPEAKER_02": "a guest"}
    unclued = turns(*[(label, "Hello there.") for label in ("SPEAKER_00", "SPEAKER_01", "SPEAKER_02")])
    assert name_speakers(unclued, episode) == {  # two voices, two guests: no way to tell which is which
        "SPEAKER_00": "Alice Smith", "SPEAKER_01": "a guest", "SPEAKER_02": "a guest"}


def test_a_self_introduction_names_its_voice_but_only_early():
    spoken = turns(("SPEAKER_00", "This is Diane in New Jersey."), ("SPEAKER_01", "Hi, I'm Carl Weber."))
    assert name_speakers(spoken, None) == {"SPEAKER_00": "the host", "SPEAKER_01": "Carl Weber"}
    listed = {"persons": [{"name": "Diane Moss", "role": "guest"}]}
    assert name_speakers(spoken, listed)["SPEAKER_00"] == "Diane Moss"  # a first name resolves to the listed person


def test_uncertain_clues_give_roles_never_a_wrong_name():
    # titles and forms of address are not names
    assert name_speakers(turns(("SPEAKER_00", "Thank you, Mr. Speaker."), ("SPEAKER_01", "Thank you, Madam Chair."),
                               ("SPEAKER_00", "Welcome, everyone.")), None) == {
        "SPEAKER_00": "the host", "SPEAKER_01": "a guest"}
    # one voice called two names: it gets neither
    conflicted = turns(("SPEAKER_00", "Welcome, Jane."), ("SPEAKER_01", "Hello."), ("SPEAKER_00", "Thanks, Mary."))
    assert name_speakers(conflicted, None)["SPEAKER_01"] == "a guest"
    # a listed host and guest with three voices: only the opening voice is placed
    episode = {"persons": [{"name": "Alice Smith", "role": "host"}, {"name": "Bob Lee", "role": "guest"}]}
    three = [*INTERVIEW, Segment(30, 34, "Me too.", "SPEAKER_02")]
    assert name_speakers(three, episode) == {"SPEAKER_00": "Alice Smith", "SPEAKER_01": "a guest",
                                             "SPEAKER_02": "a guest"}
    # fewer voices than listed people: voices were merged, so roles name no one
    listed = {"persons": [*episode["persons"], {"name": "Carol King", "role": "guest"}]}
    assert name_speakers(INTERVIEW, listed) == {"SPEAKER_00": "the host", "SPEAKER_01": "a guest"}
    # a first name that matches no listed person is not trusted when the feed lists people
    assert name_speakers(turns(("SPEAKER_00", "Welcome, Zoe."), ("SPEAKER_01", "Hi.")),
                         {"persons": [{"name": "Alice Smith", "role": "host"}, {"name": "Bob Lee", "role": "guest"},
                                      {"name": "Carol King", "role": "guest"}]})["SPEAKER_01"] == "a guest"


def test_one_name_for_two_voices_goes_to_the_one_with_more_evidence():
    spoken = turns(("SPEAKER_00", "Welcome, Jane."), ("SPEAKER_01", "Hi."), ("SPEAKER_00", "Thanks, Jane."),
                   ("SPEAKER_02", "Hm."), ("SPEAKER_00", "Thanks, Jane."), ("SPEAKER_01", "Sure."),
                   ("SPEAKER_00", "Thanks, Jane."))
    names = name_speakers(spoken, None)
    assert names["SPEAKER_01"] == "Jane" and names["SPEAKER_02"] == "a guest"


def test_recognised_voiceprints_win_over_roles():
    episode = {"persons": [{"name": "Alice Smith", "role": "host"}, {"name": "Bob Lee", "role": "guest"}]}
    names = name_speakers(INTERVIEW, episode, known={"SPEAKER_01": "Alice Smith"})
    assert names["SPEAKER_01"] == "Alice Smith" and names["SPEAKER_00"] == "the host"
