"""Regression tests for the failure classes a strict read of real-caption negatives found (issue 12).

Each test uses captions written for it, in the shape of the real ones that failed, and checks
over several seeds that no negative of the failing shape comes back (and, where a good negative
exists, that it does).
"""

from __future__ import annotations

import random
import re

import pytest

from negforge.generators import registry

SEEDS = range(6)


def _negatives(neg_type: str, caption: str, parse, resources) -> set[str]:
    spec = registry.select([neg_type])[0]
    graph = parse(caption)
    out: set[str] = set()
    for seed in SEEDS:
        out |= {n.text for n in spec.fn(caption, graph, random.Random(seed), resources)}
    return out


# 1. edits inside fixed expressions, verb complements, part and quantifier nouns ------------


@pytest.mark.parametrize(
    ("caption", "never"),
    [
        ("A pot filled with soup sits on the stove .", ("filled next to", "filled beside", "filled without")),
        ("A cart loaded with hay is parked in a field .", ("loaded beside", "loaded next to")),
        ("A boy in costume is dancing .", ("outside costume", "out of costume")),
        ("A dog playing with a ball in the grass .", ("playing next to", "playing without")),
        ("A man looking at a map .", ("looking under", "looking behind")),
    ],
)
def test_no_edits_of_verb_complements(caption, never, parse, resources):
    texts = _negatives("replace_rel", caption, parse, resources)
    assert not any(bad in t for t in texts for bad in never), sorted(texts)


@pytest.mark.parametrize(
    ("caption", "part"),
    [
        ("A car parked on the side of the road .", "side"),
        ("A dog runs along the water 's edge .", "edge"),
        ("Two kinds of fruit on a table .", "kinds"),
        ("A group of children on a bench .", "group"),
        ("A couple of dogs play in the snow .", "couple"),
        ("A man standing in the middle of a street .", "middle"),
    ],
)
def test_part_and_quantifier_nouns_are_not_objects(caption, part, parse, resources):
    graph = parse(caption)
    assert part not in {o.text for o in graph.objects}
    for neg_type in ("replace_obj", "swap_obj", "add_att"):
        for text in _negatives(neg_type, caption, parse, resources):
            # the part noun is never the edited word: it stays where it was
            assert re.search(rf"\b{part}\b", text), (neg_type, text)


def test_part_phrase_is_the_predicate(parse):
    graph = parse("A stop sign at the corner of a quiet street .")
    assert [
        (graph.objects[r.subject].text, r.predicate, graph.objects[r.object].text) for r in graph.relations
    ] == [("stop sign", "at the corner of", "street")]


# 2. counts on the right word, with agreement ------------------------------------------------


def test_count_carries_number_to_verb_and_possessive(parse, resources):
    texts = _negatives("count", "A dog with a stick in its mouth runs .", parse, resources)
    plural = {t for t in texts if t.startswith(("Two dogs", "Three dogs"))}
    assert plural and all("their mouth run ." in t for t in plural), sorted(texts)


@pytest.mark.parametrize(
    ("caption", "never"),
    [
        ("This is a salad with tomatoes .", ("This is two", "This is three")),
        ("A few women walk down the street .", ("a one", "A one", "one few")),
        ("A man in a red shirt sits on a bench .", ("two red shirts", "three red shirts", "two shirts")),
    ],
)
def test_count_edits_what_can_be_counted(caption, never, parse, resources):
    texts = _negatives("count", caption, parse, resources)
    assert not any(bad in t for t in texts for bad in never), sorted(texts)


def test_count_to_one_makes_the_verb_singular(parse, resources):
    texts = _negatives("count", "A few women walk down the street .", parse, resources)
    assert "One woman walks down the street ." in texts, texts


def test_count_leaves_a_pronoun_it_cannot_resolve(parse, resources):
    # "his" could be the man's or the boy's: the subject's number does not change
    texts = _negatives("count", "A man holds a boy on his shoulders .", parse, resources)
    assert not any(t.startswith(("Two men", "Three men")) and "his shoulders" in t for t in texts), texts


# 3. add_obj: where the caption would name it, with agreement, not an accessory ----------------


def test_add_obj_joins_the_subject_with_agreement(parse, resources):
    texts = _negatives("add_obj", "A girl runs across the grass .", parse, resources)
    subject = [t for t in texts if not t.startswith("A girl")]
    assert subject and all(re.match(r"^An? \w+ and a girl run across the grass \.$", t) for t in subject), (
        texts
    )


@pytest.mark.parametrize(
    "caption",
    [
        "A woman dressed as a clown is performing .",  # the verb is past a participle phrase
        "A person stands on a ladder and a small child climbs at the bottom .",  # a second clause
        "A man and a woman hug each other .",
    ],
)
def test_add_obj_skips_subjects_it_cannot_agree_with(caption, parse, resources):
    texts = _negatives("add_obj", caption, parse, resources)
    first = caption.split(" ", 2)[:2]
    assert all(t.split(" ", 2)[:2] == first or t.lower().startswith(caption.lower()[:5]) for t in texts), (
        texts
    )
    assert not any(re.search(r"\b(\w+) and (a|an|two) \w+ (and|,)", t) for t in texts), texts


def test_add_obj_never_adds_accessories(parse, resources):
    accessories = {"bag", "helmet", "lamp", "hat", "backpack", "shirt", "jacket", "sunglasses"}
    for caption in (
        "A man rides a bike down the road .",
        "A woman holding a cup .",
        "A dog carries a stick .",
    ):
        for text in _negatives("add_obj", caption, parse, resources):
            added = set(re.findall(r"[a-z]+", text.lower())) - set(re.findall(r"[a-z]+", caption.lower()))
            assert not added & accessories, text


# 4. add_att: salient, checkable, not a default --------------------------------------------------


@pytest.mark.parametrize(
    "caption",
    [
        "A man walks on the grass .",
        "A dog runs in the snow .",
        "A woman sits under the sky .",
        "A boy holds a ball .",
    ],
)
def test_add_att_adds_no_defaults_or_maybe_true_sizes_and_ages(caption, parse, resources):
    maybe_true = {"young", "old", "new", "small", "large", "little", "big", "tall", "short", "happy"}
    defaults = {("green", "grass"), ("white", "snow"), ("blue", "sky")}
    for text in _negatives("add_att", caption, parse, resources):
        added = set(text.lower().split()) - set(caption.lower().split())
        assert not added & maybe_true, text
        assert not any(a in added and f"{a} {n}" in text.lower() for a, n in defaults), text


# 5. swap_att exchanges two attributes between two objects -----------------------------------


def test_swap_att_is_an_exchange(parse, resources):
    texts = _negatives("swap_att", "A white dog chases a black cat .", parse, resources)
    assert "A black dog chases a white cat ." in texts
    # one attribute alone never moves onto a bare noun
    assert not _negatives("swap_att", "A man in a red jacket sits on a bench .", parse, resources)


# 6. swap_obj only between nouns that fit each other's slots ----------------------------------


@pytest.mark.parametrize(
    "caption",
    [
        "A boy sitting on a sofa .",
        "A woman holding a cup .",
        "A girl in a bikini on the beach .",
        "A dog runs through the grass .",
        "A man plays frisbee with his dog .",
    ],
)
def test_swap_obj_makes_no_role_reversal_a_text_model_rejects(caption, parse, resources):
    assert not _negatives("swap_obj", caption, parse, resources)


def test_swap_obj_swaps_doers(parse, resources):
    assert "A cat is chasing a dog ." in _negatives("swap_obj", "A dog is chasing a cat .", parse, resources)


# 7. replacements that may still be true, or are nonsense in context ---------------------------


@pytest.mark.parametrize(
    ("neg_type", "caption", "never"),
    [
        ("replace_obj", "A woman walks on the beach .", ("tourist", "player", "lady", "person", "people")),
        ("replace_obj", "A boy plays in the park .", ("child", "kid", "son")),
        (
            "replace_obj",
            "A man in a red shirt stands by a building .",
            ("by a wall", "by a window", "by a door"),
        ),
        ("replace_rel", "A man using a laptop at a desk .", ("holding a laptop", "carrying a laptop")),
        ("replace_rel", "A dog walking through the grass .", ("swimming through", "strolling through")),
        ("replace_att", "A man in a green jacket .", ("ripe jacket", "unripe jacket")),
        ("replace_att", "A young girl plays .", ("old girl", "elderly girl")),
        ("replace_att", "A black dog runs .", ("silver dog", "gold dog", "pink dog")),
    ],
)
def test_replacements_are_false_and_plausible(neg_type, caption, never, parse, resources):
    texts = _negatives(neg_type, caption, parse, resources)
    assert not any(bad in t for t in texts for bad in never), sorted(texts)


def test_replace_obj_keeps_the_slot_plausible(parse, resources):
    # a well-known slot only takes nouns captions put there: riding takes horses and bikes
    texts = _negatives("replace_obj", "A man riding a horse on the beach .", parse, resources)
    ridden = {
        re.search(r"riding an? ([a-z ]+?) on", t).group(1)
        for t in texts
        if re.search(r"riding an? ([a-z ]+?) on", t)
    }
    assert ridden and not ridden & {"cat", "sandwich", "chair", "cup", "sofa"}, ridden


def test_gender_change_carries_pronouns(parse, resources):
    texts = _negatives("replace_obj", "A boy looking at his reflection .", parse, resources)
    for text in texts:
        if text.startswith(("A girl", "A woman")):
            assert "her reflection" in text, text


@pytest.mark.parametrize(
    ("caption", "never"),
    [
        ("Two ladies jogging on a path .", ("bald ladies", "bearded ladies", "Bald two", "Tattooed two")),
        ("Three small dogs stand in the sand .", ("Brown three", "brown three")),
        ("A half-dressed man walks into a river .", ("half-masked", "half-blond")),
        ("A black and white dog jumping over a fence .", ("open black", "An open", "A full", "empty black")),
    ],
)
def test_add_att_keeps_numbers_first_words_whole_and_traits_true_to_the_noun(
    caption, never, parse, resources
):
    texts = _negatives("add_att", caption, parse, resources)
    assert not any(bad in t for t in texts for bad in never), sorted(texts)


def test_clothing_is_replaced_within_its_kind(parse, resources):
    texts = _negatives("replace_obj", "Two people wearing helmets ride bikes .", parse, resources)
    worn = {re.search(r"wearing (\w+)", t).group(1) for t in texts if "wearing" in t and "helmets" not in t}
    assert not worn & {"shirts", "jackets", "pants", "shorts", "clothes", "jewelry"}, worn


# coverage where a valid negative exists (issue 12: coverage on real captions) -----------------


def test_headline_subject_with_an_adjective_is_replaced(parse, resources):
    # "Young boy ..." has no article but is no mass noun: the headline style of many captions
    texts = _negatives("replace_obj", "Young boy wearing a red shirt looking down .", parse, resources)
    assert any(t.startswith(("Young girl", "Young woman")) for t in texts), sorted(texts)


def test_doer_slot_backs_off_to_its_verb_for_the_same_group(parse, resources):
    # the counts hold few cats walking down anything; a cat walks like a dog, a fish does not
    texts = _negatives("replace_obj", "A dog walks across the rocky ground .", parse, resources)
    doers = {t.split(" walks", 1)[0] for t in texts if " walks across the rocky ground" in t}
    assert doers & {"A cat", "A kitten"}, sorted(texts)
    assert not doers & {"A fish", "A horse", "A cow", "A cricket", "A fly"}, sorted(texts)
    # objects never back off: nothing but what is ridden is ridden
    ridden = _negatives("replace_obj", "A man riding a horse in a field .", parse, resources)
    assert not any("riding a cat" in t or "riding a dog" in t for t in ridden), sorted(ridden)


def test_add_obj_companion_need_not_be_seen_at_the_subject_place(parse, resources):
    texts = _negatives("add_obj", "A brown dog is running in a yard .", parse, resources)
    assert any(
        re.match(r"An? (man|woman|boy|girl|child) and a brown dog are running in a yard \.", t) for t in texts
    ), sorted(texts)
    barking = _negatives("add_obj", "A small dog barks at the toy .", parse, resources)
    assert not any(t.startswith("A cat and") for t in barking), sorted(barking)


@pytest.mark.parametrize(
    ("caption", "want"),
    [
        ("The skiers are in front of the lodge .", "The skiers are behind the lodge ."),
        ("Two young boys are in the water .", "Two young boys are next to the water ."),
        ("A girl in a pink dress sits on a bench .", "A girl in a pink dress sits next to a bench ."),
        # a worn garment is held instead (SugarCrepe's own kind of relation edit)
        ("A young boy wearing a gray jacket eats pasta .", "A young boy holding a gray jacket eats pasta ."),
        ("A man in a red baseball cap eats a chip .", "A man holding a red baseball cap eats a chip ."),
        # what one does in a place one does beside it as well
        ("Two boys playing in a lake .", "Two boys playing next to a lake ."),
        ("A child is jumping on the bed .", "A child is jumping beside the bed ."),
        ("A jogger in red shorts is in the street .", "A jogger in red shorts is next to the street ."),
        # a directed complement keeps verbs that move the thing along
        ("Two people ride their bikes down a dirt road .", "Two people walk their bikes down a dirt road ."),
    ],
)
def test_replace_rel_changes_where_a_thing_is(caption, want, parse, resources):
    texts = _negatives("replace_rel", caption, parse, resources)
    assert want in texts, sorted(texts)


@pytest.mark.parametrize(
    ("caption", "never"),
    [
        # a verb's complement, not where the doers are
        ("Two people ride together on a motorcycle .", ("next to a motorcycle", "beside a motorcycle")),
        ("A dog in the grass .", ("next to the grass", "beside the grass")),  # a ground
        ("A man sits on a bench .", ("gathers", "huddles")),  # one man does not gather
    ],
)
def test_replace_rel_keeps_complements_grounds_and_collective_verbs(caption, never, parse, resources):
    texts = _negatives("replace_rel", caption, parse, resources)
    assert not any(bad in t for t in texts for bad in never), sorted(texts)


def test_swap_att_exchanges_the_colors_of_two_garments(parse, resources):
    # "and" between two noun phrases is no coordination of adjectives: "red" is whole
    texts = _negatives("swap_att", "The girl is wearing a white shirt and red pants .", parse, resources)
    assert "The girl is wearing a red shirt and white pants ." in texts, sorted(texts)
    # ... while "black and white" is one coloring and stays
    texts = _negatives("swap_att", "A black and white dog chases a brown cat .", parse, resources)
    assert not any("brown and white dog" in t or "black and brown" in t for t in texts), sorted(texts)


@pytest.mark.parametrize(
    ("caption", "want"),
    [
        ("A boy wearing a red shirt and blue shorts .", "A boy wearing red shorts and a blue shirt ."),
        ("A man in blue jeans and a white shirt .", "A man in a blue shirt and white jeans ."),
        ("A woman in an orange jacket and white pants .", "A woman in orange pants and a white jacket ."),
        (
            "A woman in a red shirt , white hat , and black shorts is playing tennis .",
            "A woman in a red hat , white shirt , and black shorts is playing tennis .",
        ),
    ],
)
def test_swap_obj_trades_two_garments_of_a_list(caption, want, parse, resources):
    texts = _negatives("swap_obj", caption, parse, resources)
    assert want in texts, sorted(texts)


@pytest.mark.parametrize(
    "caption",
    [
        "A man in a black shirt and black pants .",  # the same either way
        "A man wearing his red shirt and blue jeans .",  # "his red jeans and blue shirt" reads as his both
    ],
)
def test_swap_obj_leaves_garments_that_read_the_same_or_wrong(caption, parse, resources):
    texts = _negatives("swap_obj", caption, parse, resources)
    assert not any(("pants" in t and "shirt" in t and t.index("pants") < t.index("shirt")) or "red jeans" in t for t in texts), sorted(texts)


def test_swap_obj_across_a_symmetric_relation_when_something_tells_them_apart(parse, resources):
    caption = "The woman in the orange hat poses with the man in the black shirt ."
    texts = _negatives("swap_obj", caption, parse, resources)
    assert "The man in the orange hat poses with the woman in the black shirt ." in texts, sorted(texts)
    assert not _negatives("swap_obj", "A woman walking with a child .", parse, resources)


def test_a_verb_the_tagger_took_for_a_noun_is_no_object(parse, resources):
    # spaCy reads "boy chases chickens" as one compound noun: replacing it broke the caption
    texts = _negatives("replace_obj", "A little boy chases chickens .", parse, resources)
    assert not any("chases" not in t for t in texts), sorted(texts)


@pytest.mark.parametrize(
    ("old", "new"), [("girl", "toddler"), ("boy", "baby"), ("girl", "teenager"), ("man", "teenager")]
)
def test_no_person_swap_across_a_fuzzy_age_border(old, new, resources):
    from negforge.generators.rules.fit import person_swap_ok

    assert not person_swap_ok(old, new, resources) and not person_swap_ok(new, old, resources)
    assert person_swap_ok("girl", "boy", resources) and person_swap_ok("baby", "man", resources)


def test_add_att_never_colors_a_game(parse, resources):
    texts = _negatives("add_att", "A black man playing basketball with orange shoes .", parse, resources)
    assert texts and not any(re.search(r"playing \w+ basketball", t) for t in texts), sorted(texts)


@pytest.mark.parametrize(
    ("caption", "never"),
    [
        ("A woman holds a baby while another child looks on .", "A baby holds a woman"),
        ("A woman holding a baby up and making a funny face .", "A baby holding a woman"),
        ("A dog herds a sheep .", "A sheep herds a dog"),
    ],
)
def test_swap_obj_never_reverses_roles_only_one_can_play(caption, never, parse, resources):
    texts = _negatives("swap_obj", caption, parse, resources)
    assert not any(t.startswith(never) for t in texts), sorted(texts)


def test_swap_obj_reverses_roles_of_alike_people(parse, resources):
    texts = _negatives("swap_obj", "A girl pushes a boy on a swing on a sandy playground .", parse, resources)
    assert "A boy pushes a girl on a swing on a sandy playground ." in texts, sorted(texts)


def test_replace_att_keeps_snow_where_someone_skis(parse, resources):
    assert not _negatives("replace_att", "A person skis down a snowy hill .", parse, resources)
    texts = _negatives("replace_att", "A dog runs on a snowy hill .", parse, resources)
    assert texts and all("snowy" not in t for t in texts), sorted(texts)


def test_clothes_move_only_to_people_captions_put_in_them(parse, resources):
    caption = "A girl in a yellow dress stands next to a boy in a white suit ."
    texts = _negatives("swap_obj", caption, parse, resources)
    assert not any("boy in a yellow dress" in t or "boy in a white dress" in t for t in texts), sorted(texts)
    texts = _negatives("replace_obj", "A girl in a pink dress is dancing .", parse, resources)
    assert texts and not any(re.match(r"An? (boy|man) in a pink dress", t) for t in texts), sorted(texts)


def test_add_obj_keeps_animal_only_doings_to_animals(parse, resources):
    caption = "A brown dog carries a dish towel in his mouth ."
    texts = _negatives("add_obj", caption, parse, resources)
    assert not any(re.match(r"An? (man|woman|boy|girl|child) and", t) for t in texts), sorted(texts)
    fishing = _negatives("add_obj", "A man casting a fishing pole .", parse, resources)
    assert not any(t.startswith(("A dog and", "A cat and")) for t in fishing), sorted(fishing)


@pytest.mark.parametrize(
    ("neg_type", "caption", "never"),
    [
        ("replace_rel", "A girl with a red shirt is running in the grass .", ("covering in", "dressed in")),
        ("replace_rel", "Two people in canoes ride through the water .", ("next to canoes", "beside canoes")),
        ("replace_att", "A light brown dog jumping over a hurdle .", ("light black", "light white")),
        ("replace_att", "Three dogs in different shades of brown .", ("in same shades",)),
        ("add_att", "People wearing bright and colorful costumes dance .", ("colorful white", "colorful red")),
        ("replace_rel", "A dog plays in the snow .", ("jumps in", "runs in", "rolls in")),  # playing may be jumping
        ("replace_rel", "Two surfers catch the same huge wave in the ocean .", ("beside the ocean", "next to the ocean")),
        ("replace_obj", "A man drives a truck while a child sits on his lap .", ("A baby drives", "A toddler drives")),
        # strict read, seed 17 (this session)
        ("add_obj", "A football player in an orange jersey tries to escape from the tackler .", (" tries to",)),
        ("add_att", "Two people sit on a well kept stone path by the lake .", ("well muddy", "well wooden", "well dirty", "well concrete", "well brick")),
        ("add_att", "A brown dog runs through the grass .", ("striped",)),  # 3 of 7,000 dogs
        ("add_att", "A man is holding his baby on the beach .", ("uniformed baby", "masked baby", "muddy baby")),
        ("swap_att", "A kid in a black cap and light blue shorts playing tennis .", ("light black",)),
        ("replace_rel", "A woman is snowboarding down a hill while a man watches .", ("riding down",)),
        ("replace_rel", "An older lady wearing black shoes walks behind them .", ("putting black", "placing black")),
        ("replace_rel", "A man is encouraging a small dog to stand on its hind legs .", ("holding a small dog to",)),
        ("replace_rel", "A little girl jumps from one rock to another in a creek .", ("hangs from", "sits from")),
        ("replace_obj", "People driving jeeps down a two lane path .", ("two road", "two sidewalk", "two street")),
        ("add_att", "People driving jeeps down a two lane path .", ("two concrete", "two stone", "two dirt")),
        ("replace_obj", "Two people overlook a large body of water .", ("body of surf", "body of sand", "body of snow")),
        ("replace_obj", "Two people sit on a well kept stone path .", ("a blanket kept", "a bench kept")),
        ("swap_obj", "A man holds his baby while a woman takes a picture of the baby .", ("a baby takes",)),
        # strict read, seed 18
        ("add_att", "A black poodle with a red rope toy in its mouth .", ("red yellow", "red blue", "red green")),
        ("add_att", "Man sitting on brown horse with mountains in background .", ("plastic horse", "wooden horse")),
        ("replace_obj", "A dog jumping for a Frisbee in the snow .", ("deer jumping", "cow jumping", "horse jumping")),
        ("replace_obj", "Dog trotting with a rubber duck in its mouth", ("Cow trotting", "Horse trotting", "Deer trotting")),
        # strict read, seed 19
        ("replace_att", "The boy and the dog are outside with a little snow still on the ground .", ("big snow", "large snow")),
        ("replace_obj", "The boy is playing on the shore of an ocean .", ("a surf", "an surf")),
        ("add_att", "The person wearing orange and black ripped up tights lounges in the grass .", ("ripped up gray", "ripped up white", "ripped up blue", "ripped up red")),
        ("replace_rel", "A man on a bike in midair .", ("next to a bike", "beside a bike")),
        ("swap_obj", "A boy and girl are jumping rope together while another girl is holding the rope .", ("another boy",)),
        # replace_rel: what is worn, beside and moved along only where it reads (this landing)
        ("replace_rel", "Three women in costume are dancing .", ("holding costume",)),  # no article: an idiom
        ("replace_rel", "A girl in black shorts is running .", ("holding black shorts",)),  # not held in photos
        ("replace_rel", "A boy wearing a red shirt is climbing .", ("holding a red shirt",)),  # nor while climbing
        ("replace_rel", "A man throws a boy into the pool .", ("hugs a boy", "holds a boy", "carries a boy into")),
        ("replace_rel", "A man walking two dogs down a street .", ("leading two dogs", "following two dogs")),
        ("replace_rel", "A man and a woman are carrying bags down an empty street .", ("chasing bags",)),
        ("replace_rel", "A man wearing a white shirt and blue jeans .", ("holding a white shirt",)),  # the jeans too
        ("replace_rel", "The dog is wearing a pink sweater .", ("holding a pink", "holds a pink")),  # a dog
        ("replace_rel", "Two boys swimming in a lake .", ("next to a lake", "beside a lake")),  # one swims in it
        ("replace_rel", "Two dogs playing in the snow .", ("next to the snow", "beside the snow")),  # a ground
        # dogs named by breeds whose first WordNet sense is a person or a place
        ("add_att", "A young dalmatian sits next to a tree .", ("uniformed", "bearded", "bald", "elderly")),
        ("replace_obj", "A German shepherd jumps on the grass .", ("German man", "German woman", "German dog", "German greyhound")),
        ("replace_obj", "A black lab runs into a lake .", ("black dog", "black puppy", "black poodle")),
        ("replace_obj", "A black cat sleeps on the couch .", ("black lab ", "black shepherd", "black dalmatian")),
        # animals only do what they were seen doing
        ("replace_obj", "A dog jumps over a hurdle .", ("fish jumps", "fly jumps", "cricket jumps")),
        ("replace_obj", "The dog barks at the mailman .", ("fish barks", "horse barks", "cat barks")),
        # strict read, held-out seed 31 (this session)
        ("replace_obj", "A dog stands on the sand to look at another dog .", ("another cat", "another bull", "another horse")),
        ("replace_obj", "A dog licking its lips while snow falls .", ("while pavement", "while grass", "while sand")),
        ("replace_rel", "A boy coming out of the pool .", ("climbing out",)),
        ("replace_rel", "A skier is falling down a snowy mountain .", ("sliding down",)),
        ("swap_obj", "A single runner is watched by onlookers in a race .", ("single onlooker",)),
        # strict read, held-out seed 32
        ("swap_obj", "A child wearing an orange shirt , dark blue denim shorts and sandals rides on a swing .", ("an orange denim shorts",)),
        ("add_att", "One person is on a ski lift while another snowboards .", ("another yellow", "another red", "another blue")),
        ("replace_rel", "A brindle dog is growling at a brown dog .", ("barking at",)),
        ("replace_rel", "A man and a woman looking over a balcony at an elegant building", ("walking over", "standing over", "jumping over")),
        # strict read, held-out seed 33
        ("replace_obj", "A dog retrieves a stick from a body of water .", ("a sun of", "a rock of", "a tree of")),
        ("replace_obj", "a small brown and white dog jumping off of a tree stump", ("off of a body",)),
        ("add_att", "A group of people climb into a hot air balloon .", ("hot blue air", "hot red air", "hot white air", "hot yellow air")),
        ("add_att", "A man in a wetsuit is surfing on blue water .", ("black wetsuit",)),
        ("add_obj", "Two men sit together and one looks at the other while he makes a funny face .", ("and two men",)),
        ("replace_rel", "A woman with colorful hair walks two dogs .", ("leads two dogs",)),
        ("replace_rel", "A kicker launches the football forward .", ("kicks the football",)),
        # what a dog catches or carries was seen so; ways stay ways, moving water stays as it is
        ("replace_obj", "A white dog is about to catch a yellow ball in its mouth .", ("surfboard", "skateboard", "racket")),
        ("replace_obj", "A crowd of people are gathered in the street .", ("barrel", "pipe", "tunnel", "ladder")),
        ("replace_obj", "Some greyhound dogs are racing on a dirt track .", ("stairway", "staircase", "steps")),
        ("replace_obj", "A surfer is being splashed by an ocean wave .", ("pool", "lake", "river")),
        ("replace_obj", "A tan dog jumps into water .", ("surf", "wave")),
        ("replace_obj", "A person is swimming in a river .", ("a rapid", "a flight")),
        # strict read, held-out seed 35 (this session): verbs that may well be true together
        ("replace_rel", "A white dog has caught a stick on the beach .", ("has held",)),
        ("replace_rel", "a lone woman on a beach walking a dog on a leash", ("holding a dog",)),
        ("replace_rel", "A young man stands against a tree drinking from a cup .", ("leans against", "leaning against")),
        ("replace_rel", "This person in a yellow kayak is riding the rapids .", ("fighting the rapids",)),
        ("replace_rel", "A white dog jumping off the ground trying to catch a ball .", ("trying to chase",)),
        ("replace_rel", "A child in a red jacket holding up two fingers .", ("holding a red jacket",)),
        ("add_att", "The young athlete completes the swimming portion of the race .", ("shirtless", "barefoot", "wet ")),
        ("add_obj", "The lady on the porch is wearing a brown jacket .", ("are wearing a brown jacket",)),
        ("add_obj", "A football player clutches the ball while running down the field .", ("clutch the ball",)),
        # the known-left list of the last landing: measures, adverbs, partners
        ("replace_obj", "A girl stands in front of a wall of graffiti .", ("tower of", "fountain of", "wall of slides", "wall of fabrics")),
        ("replace_obj", "A man holds a cup of coffee .", ("cup of cake", "plate of coffee")),
        ("replace_obj", "Two dogs run on a mostly dirt road .", ("mostly path", "mostly trail", "mostly barrel")),
        ("replace_obj", "The horse and rider jump over a fence .", ("child and rider", "man and rider", "dog and rider")),
        ("replace_obj", "A rider and his horse jump a fence .", ("player and his horse", "musician and his horse")),
        ("replace_rel", "A man sits in a car behind the steering wheel .", ("next to a car", "beside a car", "outside a car")),
        ("add_obj", "A dog is walked by a man .", ("woman and a dog are walked", "child and a dog are walked")),
        ("add_att", "A man and a woman looking at an elegant building .", ("brick elegant", "stone elegant", "wooden elegant")),
        # strict read, held-out seed 36
        ("replace_rel", "A girl wants to feed the ducks .", ("to chased", "to fed")),  # "feed" is no participle of "fee"
        ("replace_rel", "A brown dog is jumping up to catch a green strap in its mouth .", ("wear a green strap",)),
        ("replace_rel", "The rider is driving their motorcycle .", ("racing their",)),
        ("replace_rel", "A skier is attempting a turn in a patch of deep snow pack .", ("rounding a turn", "making a turn")),
        ("replace_rel", "A girl dumps a bucket of water on another girl .", ("carries a bucket", "holds a bucket", "pours a bucket")),
        ("replace_rel", "Several people crowd on a truck going down the road", ("ride on a truck",)),
        ("replace_rel", "A black and white dog leaping to catch an orange ball in an open field .", ("fetch an orange", "run an orange")),
        ("replace_rel", "Two field hockey players attempt to hit a ball with their sticks .", ("toss a ball", "hold a ball")),
        ("replace_rel", "A boy kicks a ball to his father .", ("holds a ball", "chases a ball")),
        ("replace_obj", "Four women dressed in costume , one with a pink wig , look to the left .", ("to the right",)),
        ("replace_obj", "A dog runs while holding an object in its mouth .", ("cow runs", "bull runs", "horse runs")),
        ("replace_obj", "Two dogs run .", ("females", "males")),
        # a read of 40 dev replace_rel negatives (this session)
        ("replace_rel", "A smiling young girl wearing a swimsuit is soaking in a tub of water .", ("sitting in a tub",)),
        ("replace_rel", "A little girl eats an apple and sits in front of a map of the world .", ("holds an apple",)),
        ("replace_rel", "A furry white dog is carrying a stick in its mouth through the grass .", ("catching a stick", "holding a stick")),
        ("replace_rel", "A batter playing cricket missed the ball .", ("bitten the",)),
        ("replace_rel", "Three people riding on a blue and white boat .", ("standing on a", "sitting on a")),
        ("replace_rel", "a skateboarder grinds a red rail .", ("rides a red rail",)),
        ("replace_rel", "A woman is taking a photograph of the man carrying the backpack .", ("wearing the backpack",)),
        # a read of 40 dev replace_obj negatives (this session): one thing under two names, lists
        ("replace_obj", "The brown dog is jumping a hurdle over a yellow and black pole .", ("jumping a fence",)),
        ("replace_obj", "Two tan dogs interact in a grassy yard enclosed by a wooded fence .", ("grassy park",)),
        ("replace_obj", "A small plane is dropping a red chemical over the mountaintops .", ("over the mountains",)),
        ("replace_obj", "Two swimmers are playing a water sport with a yellow ball and a net .", ("and a building",)),
        ("replace_obj", "A dog and a cat play .", ("A bull and", "A sheep and", "A cow and")),
        ("replace_obj", "A woman in white jacket snowboarding at a park .", ("at a heel", "at a point")),
        # a read of 25 dev add_att and 25 add_obj negatives (this session)
        ("add_att", "A child without a shirt running in the dirt .", ("without a yellow", "without a white", "without a red", "without a blue")),
        ("add_obj", "A man is riding a bicycle on a dirt path .", ("are riding a bicycle",)),
        ("add_obj", "A man plays an accordion on a park bench .", ("play an accordion",)),
        # add_obj: no one may be assumed to share a doing the tagger does not know, nor a dog a
        # person's place; a singular verb after the group only ("pins" is no verb of the
        # subject); what animals were seen carrying
        ("add_obj", "The man is waterskiing .", ("dog and the man",)),
        ("add_obj", "A man is on a sailboard .", ("dog and a man",)),
        ("add_obj", "A group of women all dressed in red with yellow flower pins .", ("flower pin .",)),
        ("add_obj", "The dog is carrying a pink ball in its mouth .", ("skateboard", "surfboard", "racket")),
        # strict read, dev seed 48
        ("replace_obj", "A dog casts a shadow on the grass .", ("casts a restaurant", "casts a forest", "casts a park", "casts a room")),
        ("replace_rel", "A man dives into the water surrounded by rocks and pine trees .", ("splashed by", "covered by", "chased by")),
        # strict read, held-out seed 47 (final rules)
        ("replace_rel", "A tan dog leaps into the water .", ("dives into",)),
        # strict read, dev seed 46
        ("add_obj", "A little boy drinks water from a fountain while another little boy watches and makes a face .", ("watches and make ",)),
        ("replace_rel", "Three children are riding down a hill on tricycles .", ("running down", "walking down", "sliding down")),
        ("replace_rel", "Three young women pose for the camera at a parade .", ("smile for",)),
        # strict read, dev seed 45
        ("add_att", "A girl poses with a black haired boy .", ("haired blond", "haired blonde", "haired redheaded")),
        ("add_att", "A dog with white and brown fur sleeps on a rug .", ("black dog with", "white dog with", "brown dog with", "tan dog with")),
        ("swap_obj", "A young man and woman sit on a couch , the woman holds a cup .", ("woman and woman", "man and man")),
        ("replace_rel", "A dog retrieving a stick from the lake .", ("holding a stick",)),
        # strict read, dev seed 44
        ("replace_obj", "A child feels like he is flying as his mom throws him up in the air .", ("his kid", "his child", "his baby", "his son", "his girl", "his boy")),
        ("replace_rel", "A little boy swings a bat at a ball .", ("holding a bat", "holds a bat")),
        ("replace_rel", "Two dogs romp through a meadow .", ("bound through",)),
        # strict read, held-out seed 40 (this session's final rules)
        ("replace_obj", "Person riding a racing motorcycle while other people watch .", ("riding a bike", "riding a motorbike")),
        ("replace_rel", "A small boy holding a camera in his hands .", ("watching a camera", "looking at a camera")),
        ("replace_rel", "A girl climbing a tree .", ("surrounding a tree", "encircling a tree")),
        # strict read, held-out seed 39 (2026-12-07, second session)
        ("replace_att", "Two puppies run through snowy grass .", ("grassy grass",)),
        ("add_att", "A woman is wearing dark sunglasses .", ("dark gray", "dark black", "dark blue", "dark brown", "dark red")),
        ("add_att", "A hiker walks down a rocky path .", ("rocky stone",)),
        ("add_att", "An older woman in a pink striped shirt .", ("older elderly", "elderly older")),
        # strict read, dev seed 43
        ("replace_rel", "A white bird is in mid flight .", ("next to mid flight", "beside mid flight", "next to flight")),
        ("replace_rel", "A man sits with a boy on a bench .", ("smiles with", "speaks with", "waits with", "talks with")),
        ("replace_rel", "A boy in a red wetsuit catching a wave .", ("riding a wave", "surfing a wave")),
        ("replace_rel", "A little boy slides down a snow slope .", ("sleds down",)),
        # add_obj misses read on 1,500 dev captions
        ("add_obj", "Six girls in red dresses stand in a row .", ("Dog and six", "Man and six", "Child and six")),
        ("add_obj", "A group of men and women are dancing in a hall .", (", a group of",)),
        # strict read, dev seed 42
        ("replace_obj", "Women wearing black tops speaking into a red microphone with another woman beside her writing .", ("beside her toy", "beside her book")),
        ("replace_obj", "A woman sings into a microphone on stage .", ("into a tripod", "into a gun", "into a wheel", "into a ride")),
        ("replace_obj", "A girl sits at a desk and eats lunch .", ("at a chair", "at a couch", "at a bed", "at a stool")),
        ("replace_obj", "Two girls are smiling at the camera .", ("at the wheel", "at the cellphone", "at the phone")),
        ("add_att", "A narrow stream runs between leaf-covered hills .", ("orange leaf", "red leaf", "green leaf", "brown leaf")),
        ("add_att", "A dog runs across a snow covered field .", ("covered wet", "covered yellow", "covered brown", "covered muddy")),
        ("replace_rel", "Many people are gathered outside a church .", ("are stood", "are sat", "are walked", "are performed")),
        # strict read, dev seed 41 (2026-12-07, second session)
        ("replace_att", "A kayaker paddles down a fast moving river .", ("fast parked", "fast stopped")),
        ("replace_att", "A boy throws stones into a moving stream .", ("parked stream", "stopped stream")),
        ("replace_rel", "Three boys stand smiling and laughing in front of a fence .", ("and standing in",)),
        ("replace_rel", "A man walking along the shore carrying a surfboard .", ("riding a surfboard", "surfing a surfboard")),
        ("replace_rel", "A woman performs on a stage .", ("stands on", "sits on", "dances on", "poses on")),
        ("swap_att", "A young girl hugs a little boy .", ("little girl hugs a young boy",)),
        ("swap_att", "The small fluffy white dog runs across the lawn with a tiny stick in its mouth .", ("tiny fluffy",)),
        ("swap_att", "A black dog with short fur is running on the grass .", ("short dog",)),
        ("swap_obj", "The boy in the blue and white shirt has a glove on and is going towards the ball .", ("has a ball on",)),
        ("swap_obj", "A woman wearing sandals , navy blue shorts and a white shirt .", ("navy a", "navy white")),
        ("add_obj", "A lone surfer rides a big wave .", ("and a lone surfer",)),
        # strict read, held-out seed 38 (final rules)
        ("add_obj", "A scuba diver emerges from the water and pulls himself onto the rocks .", ("and a scuba diver",)),
        # strict read, held-out seed 37 (final rules but these fixes)
        ("swap_obj", "A young boy and a girl on a skateboard have fun in a parking lot .", ("young girl and a boy",)),
        ("add_att", "A chubby baby with an orange hat splashes in a shallow body of water .", ("bearded", "mustached", "bald", "elderly")),
        ("add_att", "A man jumps over a wave while riding a surfboard .", ("green wave", "blue wave", "white wave")),
        ("add_obj", "Two girls riding an ATV .", ("and two girls riding an ATV",)),
        ("replace_rel", "The dog is running out of the tunnel on a dog obedience course .", ("coming out of",)),
        # an animal stands in for people only where animals were seen doing the same
        ("replace_obj", "A crowd of people watch the parade .", ("crowd of dogs",)),
        ("replace_obj", "People in costumes dance in the street .", ("Dogs in", "Horses in")),
        ("replace_obj", "People sit on a bench .", ("Females", "Males")),
        # held-out read, seed 49: a sidewalk is the street's side ("walking down the sidewalk"
        # -> "the street" may be the same photo); no one is "outside" a chair; "holding a dust
        # mask on her mouth" may be what "wearing" it there shows
        ("replace_obj", "A group of people are walking down the sidewalk of a big city .", ("down the street", "down the road")),
        ("replace_obj", "Two girls walking down the street .", ("down the sidewalk",)),
        ("replace_rel", "An elderly woman sits in a chair and wears a winter hat .", ("outside a chair", "inside a chair")),
        ("replace_rel", "A woman is wearing a dust mask on her mouth whilst walking in the street .", ("holding a dust mask",)),
        # dev read, seed 50: "colored pencils" are many colors; a color the groups do not draw is
        # a color all the same; "in bed" is an idiom; smiling into the camera is looking into it
        ("add_att", "The little girl is using colored pencils to decorate a coloring book .", tuple(f"colored {c} pencils" for c in ("pink", "red", "blue", "green", "yellow", "black", "white", "orange", "purple", "brown"))),
        ("add_att", "A man helps a girl get up on a turquoise surfboard .", tuple(f"{c} turquoise" for c in ("black", "white", "red", "blue", "green", "yellow", "orange", "pink", "purple", "brown", "gray"))),
        ("add_att", "Two dark colored dogs fighting one another .", ("colored brown dogs", "colored black dogs", "colored white dogs", "colored tan dogs")),
        ("replace_rel", "A man and a girl in bed .", ("beside bed", "next to bed", "outside bed", "behind bed")),
        ("replace_rel", "A young woman with curly brown hair smiles into the camera .", ("looks into", "looking into")),
        ("add_obj", "A baseball player strains to throw a ball .", (" and a baseball player strain",)),
        ("add_obj", "A leaping dog catches a green and black Frisbee .", (" and a leaping dog catch",)),
        ("add_obj", "A man sitting in a blue metal chair .", (" and a man sitting in a blue metal chair",)),
        # dev read, seed 51: names a caption may use for one garment or one street
        ("replace_obj", "A man in a white shirt and dress pants sits just underneath a stone archway .", ("white sweatshirt", "white top", "white jersey", "white blouse")),
        ("replace_obj", "A man in a grey sweatshirt is standing in a crowded street at night .", ("grey sweater", "grey hoodie", "grey shirt")),
        ("replace_obj", "Two woman wearing dresses stand in the street and pose .", ("the crosswalk", "the intersection", "the sidewalk")),
        ("replace_rel", "A boy dunks a basketball .", ("holds a basketball",)),
        # hair comes in hair colors; a trait the caption settles is never added
        ("swap_att", "A girl with brown hair in a pink shirt .", ("pink hair",)),
        ("replace_att", "A woman with red hair and a man with a black hat .", ("green hair", "blue hair", "pink hair", "orange hair")),
        ("replace_att", "A man with dark hair smiles .", ("brown hair", "black hair")),
        ("add_att", "A man with dark hair smiles .", ("bald",)),
        ("add_att", "A man with a white beard sits .", ("bearded",)),
        ("add_att", "A man in a red shirt runs .", ("shirtless",)),
        ("replace_att", "Two small children with brown hair are playing a drum .", ("gray hair", "grey hair", "white hair")),
        # dev read, seed 52: markings are no thing; a symmetric doing in a shared place; two names
        # of one place
        ("replace_obj", "A white dog with black patches runs through a spray from a hose .", ("black toys", "black balls", "black sticks")),
        ("swap_obj", "A puppy plays with an adult dog in the snow .", ("An adult dog plays with a puppy",)),
        ("swap_obj", "Four people and a baby are crossing the street at a crosswalk .", ("crossing the crosswalk",)),
        # dev read, seed 53: a doer and its doing are no one thing; a verb's base form is no
        # thing; selling becomes only buying; no animal beside people's own vehicles
        ("replace_obj", "Large black and white dog jumping hurdle", ("white ramp", "white fence", "white log")),
        ("add_att", "A large group of people with facepaint on gather outside .", ("on green", "on purple", "on silver", "on white", "on red")),
        ("replace_rel", "A vendor sells children 's toys as visitors walk by .", ("carries", "rides", "holds", "displays")),
        ("add_obj", "A line of people are sitting on their motorcycles .", ("A dog and", "A cat and", "A horse and")),
        # dev read, seed 54: a football may be a soccer ball; one poses dressed in a bikini
        ("replace_obj", "A small dog jumping up to meet a yellow soccer ball .", ("yellow football",)),
        ("replace_rel", "A flamboyant young woman dressed in a red bikini walks by .", ("posed in", "danced in", "posing in", "dancing in")),
        # held-out read, seed 55: "little league" is one noun; "shown" is the photo's word;
        # operating a camera is holding it; one rides a horse over a jump
        ("add_att", "Two little league players are next to a base in the field .", tuple(f"little {a} league" for a in ("blond", "blonde", "redheaded", "muddy", "wet", "tattooed", "bald", "uniformed"))),
        ("replace_rel", "A group of skiers shown on a snow covered mountain .", ("sat on", "stood on", "sitting on", "standing on")),
        ("replace_rel", "A little girl in pink pajamas tries to operate a camera .", ("to hold a camera",)),
        ("replace_rel", "A woman in a pink shirt is riding a horse in a competition .", ("jumping a horse",)),
        # rare slots back off to their preposition: the new noun must follow it about as often
        ("replace_obj", "Two people are getting married in a church .", ("in a bench", "in a fence", "in a pole", "in a ramp", "in a hurdle")),
        ("replace_obj", "A person in red pants weaves through green cones .", ("green books", "green blankets", "green collars", "green letters")),
        ("replace_obj", "A person is sitting in front of three blue and white port-o-potties .", ("city-o", "street-o", "road-o", "sidewalk-o", "harbor-o", "dock-o", "pier-o")),
        ("replace_obj", "Black poodle carrying red and white dog toy", ("Black puppy",)),
        ("add_att", "A little girl with blonde hair and blue eyes is eating cookies .", tuple(f"{t} cookies" for t in ("bearded", "tattooed", "barefoot", "shirtless", "masked", "redheaded", "uniformed", "bald"))),
        # held-out reads, seeds 57 and 58: fetching is chasing; overlooking is watching; a
        # fluffy dog is furry; a verb the caption says already; a bare infinitive after a
        # relative clause; one dribbler per ball
        ("replace_rel", "A brown dog is fetching a ball .", ("chasing a ball", "grabbing a ball")),
        ("replace_rel", "A woman is sitting on a rock overlooking the water .", ("watching the water", "looking at the water", "viewing the water")),
        ("replace_att", "A fluffy dog carries a stick through snow .", ("furry dog", "shaggy dog", "fuzzy dog", "hairy dog")),
        ("replace_rel", "A boy watches the ball he hit .", ("hits the ball", "hit the ball he")),
        ("replace_rel", "A player watches the tennis ball he hit go flying .", ("tosses the", "throws the", "hands the", "kicks the", "carries the", "holds the", "catches the")),
        ("add_obj", "A woman dribbles a ball down the court .", ("and a woman dribble",)),
        # held-out read, seed 59: a seat takes postures; one faces what one climbs; a fetching
        # dog bites the ball; a dirty ball is a brown one
        ("replace_rel", "A man is sitting in the drivers seat of a jeep .", ("walking in", "running in", "jumping in", "dancing in")),
        ("replace_rel", "Two men climbing a mountain .", ("facing a mountain",)),
        ("replace_rel", "A dog fetches a ball in a field .", ("bites a ball",)),
        ("swap_att", "A brown dog is chasing a dirty tennis ball .", ("A dirty dog",)),
        # "blonde haired": the adjective is the hair's color, a child's hair is never gray
        ("replace_att", "A blonde haired toddler swinging on a tire swing .", ("redheaded haired", "brunette haired", "gray haired", "white haired", "yellow haired")),
        # held-out read, seed 60: a baseball cap is a hat; a playground may be in a park; a
        # hiker may be climbing
        ("replace_obj", "A boy in a red baseball cap eats a cracker .", ("red hat", "red cap")),
        ("replace_obj", "A young boy is looking through binoculars at a playground .", ("at a park",)),
        ("replace_obj", "A hiker is walking along a path at the foot of some mountains .", ("A rock climber", "A climber", "A backpacker", "A mountain climber")),
        # held-out reads, seeds 59 and 60: no mud in snow or a pool; no hair color for prey
        ("add_att", "A snowboarder high in the air .", ("muddy snowboarder", "dirty snowboarder")),
        ("add_att", "The girls are playing in the pool and splashing each other with water .", ("muddy water", "dirty water")),
        ("add_att", "A lioness closes in on its prey .", ("blonde prey", "blond prey", "redheaded prey", "uniformed prey")),
        # dev diff: a base form that is no past keeps the present; smiling goes with any doing
        ("replace_rel", "A black dog and a grey dog run on the beach .", ("walked on", "stood on", "jumped on", "sat on", "lay on")),
        ("replace_rel", "A boy is skateboarding in a skateboard park .", ("is smiling", "is laughing", "is grinning", "is facing")),
        # dev diff: sleeping in a seat is sitting; nothing is under a ground
        ("replace_rel", "A woman , curled up , sleeps in her seat on a bus .", ("hikes in", "walks in", "sits in", "runs in", "lies in")),
        ("replace_rel", "A young girl running on the beach .", ("under the beach", "beneath the beach", "below the beach")),
        # held-out read, seed 61: the viewer's camera; reading a book is carrying it; walking a
        # dog is following it; an Afro is hair
        ("replace_obj", "A boy points at something behind the camera .", ("behind the watch", "behind the phone", "behind the cellphone", "behind the microphone")),
        ("replace_rel", "A couple is holding their baby while the priest reads his book .", ("carries his book",)),
        ("replace_rel", "A woman walking a dog on a leash .", ("following a dog",)),
        ("add_att", "A man with an Afro propels his skateboard into the air .", ("bald man",)),
        # held-out read, seed 62: a house has a building's parts ("outside a house" may be
        # "outside a door")
        ("replace_obj", "Three spotted dogs outside a house .", ("outside a door", "outside a wall", "outside a roof", "outside a window")),
        # dev diff: "hard hat" is one name
        ("replace_obj", "A couple guys splash through water wearing hard hats .", ("hard hoods", "hard headscarfs", "hard caps", "hard helmets", "hard bandanas")),
    ],
)
def test_strict_read_failures(neg_type, caption, never, parse, resources):
    texts = _negatives(neg_type, caption, parse, resources)
    assert not any(bad in t for t in texts for bad in never), sorted(texts)


def test_add_obj_traffic_holds_no_people(parse, resources):
    # "traffic" is a group noun, but of cars: a man beside the woman is clearly false
    texts = _negatives("add_obj", "A man crosses a street while traffic waits .", parse, resources)
    assert any(re.match(r"An? (woman|child|girl|boy) and a man cross a street", t) for t in texts), sorted(texts)


def test_replace_rel_keeps_a_body_parts_state(parse, resources):
    # "with her eyes closed in a park": the participle is the eyes' state, never "eyes walked"
    caption = "A girl is standing with her eyes closed in a busy park ."
    texts = _negatives("replace_rel", caption, parse, resources)
    assert all("with her eyes closed" in t for t in texts), sorted(texts)


def test_replace_obj_a_person_stands_in_for_an_animal_no_other_animal_fits(parse, resources):
    texts = _negatives("replace_obj", "A dog is holding a white stuffed animal .", parse, resources)
    assert any(re.match(r"An? (girl|boy|man|woman|child|kid) is holding", t) for t in texts), sorted(texts)
    for caption in (
        "A dog runs with a stick in its mouth .",  # a boy has no "its"
        "One dog sniffs another lying on the ground .",  # "another" is a dog
        "A man walks his dog .",  # what is walked is no person
    ):
        texts = _negatives("replace_obj", caption, parse, resources)
        assert not any(
            re.search(r"\b(with a stick|One \w+ sniffs|walks his) (man|woman|boy|girl|child|kid)\b", t)
            or re.match(r"A (man|woman|boy|girl|child|kid) runs with a stick", t)
            or re.match(r"One (man|woman|boy|girl|child|kid) sniffs", t)
            for t in texts
        ), sorted(texts)
    walked = _negatives("replace_obj", "A man walks his dog .", parse, resources)
    assert not any(f"walks his {a}" in walked_t for walked_t in walked for a in ("cricket", "fly", "fish")), sorted(walked)


def test_replace_obj_an_animal_stands_in_for_people_seen_doing_what_animals_do(parse, resources):
    # "people" has no other person that is surely not one of them: only an animal is false
    for caption, want in (
        ("Two people are playing in the snow .", "Two dogs are playing in the snow ."),
        ("A person is swimming in a pool .", "A dog is swimming in a pool ."),
    ):
        texts = _negatives("replace_obj", caption, parse, resources)
        assert want in texts, sorted(texts)
    # WordNet's "dog" is also an informal term for a man: never the same thing in a caption
    assert resources.lexical_relation("people", "dog") is None
    assert resources.lexical_relation("man", "dog") is None
    assert resources.lexical_relation("dog", "puppy") is not None


def test_capitalised_trademark_is_an_object_and_its_replacement_is_lower_case(parse, resources):
    texts = _negatives("replace_obj", "A dog catching a Frisbee .", parse, resources)
    assert "A dog catching a ball ." in texts, sorted(texts)
    # a name is still no object
    texts = _negatives("replace_obj", "Obama gives a speech .", parse, resources)
    assert not any(not t.startswith("Obama") for t in texts), sorted(texts)


@pytest.mark.parametrize(
    ("caption", "want"),
    [
        ("A white dog is in the water .", r"^An? (man|woman|boy|girl|child|kid) and a white dog are in the water \.$"),
        ("A black poodle is running in the snow .", r"^An? \w+ and a black poodle are running in the snow \.$"),
        ("A crowd of people is standing around a hot air balloon .", r"^An? \w+ and a crowd of people are standing"),
    ],
)
def test_add_obj_joins_subjects_that_only_are_somewhere_or_rarely_named(caption, want, parse, resources):
    texts = _negatives("add_obj", caption, parse, resources)
    assert any(re.match(want, t) for t in texts), sorted(texts)


def test_add_att_leaves_acts_and_compounds_whole(parse, resources):
    texts = _negatives("add_att", "A blue , red , and yellow plane does a loop in the air .", parse, resources)
    assert not any(re.search(r"does an? \w+ loop", t) for t in texts), sorted(texts)
    texts = _negatives("add_att", "An ice hockey goal keeper blocks the puck .", parse, resources)
    assert texts and not any(re.search(r"\bice \w+ hockey", t) for t in texts), sorted(texts)


def test_replace_obj_edits_a_caption_subject_the_parse_tied_to_no_verb(parse, resources):
    # "The snowboarder is sitting down": the parse has no relation, yet it is the caption's subject
    texts = _negatives("replace_obj", "The snowboarder is sitting down .", parse, resources)
    assert texts and all(t.endswith(" is sitting down .") for t in texts), sorted(texts)
    # ... unlike the subject of a later clause ("while snow falls")
    texts = _negatives("replace_obj", "A dog licking its lips while snow falls .", parse, resources)
    assert not any("while snow" not in t for t in texts if "dog" in t), sorted(texts)


def test_replace_att_changes_what_a_thing_is_covered_in(parse, resources):
    texts = _negatives("replace_att", "Two dogs run through a snow covered field .", parse, resources)
    assert any(re.fullmatch(r"Two dogs run through a (grass|mud|sand|leaf) covered field \.", t) for t in texts), sorted(texts)
    texts = _negatives("replace_att", "A skier goes down a snow covered hill .", parse, resources)
    assert not any("covered hill" in t and "snow covered" not in t for t in texts), sorted(texts)  # the skis say snow


def test_breed_names_relate_to_dog(resources):
    assert resources.lexicon.class_of("dalmatian") == resources.lexicon.class_of("lab") == "animal"
    assert resources.lexical_relation("dog", "lab") is not None
    assert resources.lexical_relation("shepherd", "puppy") is not None
    assert resources.lexical_relation("cat", "lab") is None


def test_add_obj_leaves_the_verb_of_a_relative_clause_on_another_noun(parse, resources):
    texts = _negatives("add_obj", "A man throwing an object at a dog who is running away .", parse, resources)
    assert not any("who are running" in t for t in texts), sorted(texts)


def test_add_obj_makes_a_catenative_verb_plural(parse, resources):
    """"tries to escape" is the subject's verb: a co-subject before the subject makes it "try"."""
    caption = "A football player in an orange jersey tries to escape from the tackler ."
    texts = _negatives("add_obj", caption, parse, resources)
    joined = [t for t in texts if " and a football player" in t]
    assert joined and all(" try to escape" in t for t in joined), sorted(texts)


def test_replace_rel_edits_the_plain_present_of_plural_subjects(parse, resources):
    """"two people sit on a bench": VBP verbs are verbs too (they were skipped, and with them
    most plural subjects' relations)."""
    texts = _negatives("replace_rel", "Two people sit on a wooden bench .", parse, resources)
    assert any(t.startswith("Two people stand on") or t.startswith("Two people lie on") for t in texts), sorted(texts)
    assert not any(" sits " in t or " stands " in t for t in texts), sorted(texts)  # agreement kept


def test_add_obj_agrees_every_verb_of_the_subject(parse, resources):
    """Verbs joined by "and" share the subject: a co-subject makes both plural."""
    texts = _negatives("add_obj", "A man stands and reads a newspaper .", parse, resources)
    assert texts and all(re.match(r"^An? \w+ and a man stand and read a newspaper \.$", t) for t in texts), texts


def test_add_obj_adds_a_third_to_a_list(parse, resources):
    """A subject that is a list already gets a third item, not "a dog and a man and a woman"."""
    texts = _negatives("add_obj", "A man and a woman are sitting in a rowboat .", parse, resources)
    assert texts and all(re.match(r"^An? \w+ , a man and a woman are sitting in a rowboat \.$", t) for t in texts), (
        texts
    )
    assert not _negatives("add_obj", "Man and woman wearing false noses .", parse, resources)  # no article to match


@pytest.mark.parametrize(
    "caption, pattern",
    [
        ("A red-headed boy swimming underwater .", r"^An? \w+ and a red-headed boy swimming underwater \.$"),
        ("A very large bird flying over water .", None),  # an adverb before the noun is still the subject
        ("Three people on a beach .", r"^A dog and three people on a beach \.$"),  # a pet beside people
    ],
)
def test_add_obj_finds_the_subject_past_modifiers_and_adds_pets_to_people(caption, pattern, parse, resources):
    import negforge.generators.rules.add as add

    graph = parse(caption)
    assert add._subject_index(caption, graph) is not None
    if pattern is not None:
        texts = _negatives("add_obj", caption, parse, resources)
        assert texts and all(re.match(pattern, t) for t in texts), texts


def test_add_obj_adds_no_pet_that_does_not_do_what_people_do(parse, resources):
    texts = _negatives("add_obj", "Two people kiss near a crowd .", parse, resources)
    assert not any("dog" in t or "cat" in t for t in texts), texts


def test_number_check_reads_past_phrases_inside_the_subject(resources):
    """The verb after "with a necklace" / "wearing a kilt" belongs to the head before them."""
    from negforge.generators.checks import check_negative

    cap = "A small girl with a necklace is swimming ."
    assert check_negative(cap, "A man and a small girl with a necklace are swimming .", resources) is None
    cap = "A man wearing a kilt is playing the bagpipes ."
    assert check_negative(cap, "Two men wearing a kilt are playing the bagpipes .", resources) is None
    assert check_negative("A dog is running .", "A dog are running .", resources) == "number_agreement"


def test_count_ties_every_verb_and_counts_no_verb(parse, resources):
    texts = _negatives("count", "A brown and white dog runs and jumps .", parse, resources)
    assert texts and not any(" one " in t for t in texts), texts  # "runs" is no noun: no "one run"
    assert all(re.match(r"^(Two|Three) brown and white dogs run and jump \.$", t) for t in texts), texts
    cap = "A girl dressed in a red and black top with black pants is sitting on a wall ."
    assert not any(" is " in t for t in _negatives("count", cap, parse, resources) if "girls" in t)


@pytest.mark.parametrize(
    "caption, verb",
    [
        ("A man windsurfs in a wetsuit .", "windsurfs"),  # a verb the inflection table lacks
        ("A motorcycle racer speeds down a track .", "speeds"),  # a verb the parse took for a noun
    ],
)
def test_add_obj_and_count_leave_no_verb_singular(caption, verb, parse, resources):
    """A plural subject never keeps a singular verb: no negative rather than "a woman and a man windsurfs"."""
    for neg_type in ("add_obj", "count"):
        texts = _negatives(neg_type, caption, parse, resources)
        assert not any(verb in t and not t.startswith(caption[:8]) for t in texts), (neg_type, texts)


@pytest.mark.parametrize(
    "caption, excluded",
    [
        ("Some kids are wrestling on an inflatable raft .", {"boy", "girl", "child", "kid"}),  # may be among them
        ("Man in denim cap and sunglasses amid a crowd .", {"man", "woman", "boy", "girl", "child"}),
        ("A woman is outside playing the guitar .", {"dog", "cat"}),  # a verb the parse did not tie
        ("a group of teenagers are dancing on a wooden floor .", {"boy", "girl", "kid", "teen"}),
    ],
)
def test_add_obj_adds_nobody_the_caption_may_already_hold(caption, excluded, parse, resources):
    texts = _negatives("add_obj", caption, parse, resources)
    added = {re.match(r"^(?:an? )?(\w+)", t, re.I).group(1).lower() for t in texts}
    assert not added & excluded, texts


@pytest.mark.parametrize(
    "caption, excluded",
    [
        ("A brown dog leaps over the water in a grassy yard .", {"cat"}),  # a verb the parse left untied
        ("Two men jumping outside on the grass .", {"baby"}),  # babies do few things people do
        ("Two horses pull a carriage .", {"boy", "girl", "man", "woman", "child"}),  # never seen pulling it
        ("A boy is splashing water in his bathing suit .", {"dog", "cat", "puppy"}),  # clothes are worn by people
        ("Three people , one sitting , two standing , are in a mall .", {"dog", "man", "woman", "boy", "girl"}),
    ],
)
def test_add_obj_adds_no_one_who_would_not_do_it(caption, excluded, parse, resources):
    texts = {t for t in _negatives("add_obj", caption, parse, resources) if not t.startswith(caption[:9])}
    added = {re.match(r"^(?:an? )?(\w+)", t, re.I).group(1).lower() for t in texts}
    assert not added & excluded, texts


def test_add_obj_gives_the_subject_possessions_to_both(parse, resources):
    """Two riders ride two bikes: "his bike" becomes "their bikes", "her hair" stays one word."""
    texts = _negatives("add_obj", "A man rides his bike over a stair handrail .", parse, resources)
    subject = {t for t in texts if not t.startswith("A man rides")}
    assert subject and all(re.match(r"^An? \w+ and a man ride their bikes over a stair handrail \.$", t) for t in subject), texts
    texts = _negatives("add_obj", "A girl brushes her hair .", parse, resources)
    assert texts and all(t.endswith("and a girl brush their hair .") for t in texts), texts
    texts = _negatives("add_obj", "A man flips his food with his frying pan .", parse, resources)
    assert texts and all("their food with their frying pans" in t for t in texts), texts  # a mass noun stays
    # another owner named: whose "his" would it be?
    assert all(t.startswith("A man walks") for t in _negatives("add_obj", "A man walks his dog .", parse, resources))


@pytest.mark.parametrize(
    "caption",
    [
        "Two horses pull a carriage driven by a woman over snowy ground .",  # would hang on both
        "A crowd is watching two men , one in yellow pants .",  # an appositive follows
        "A crowd is watching two men .",  # any man added may be in the crowd
        "The woman holds a small infant in a baby carrier .",  # people are not held in pairs
    ],
)
def test_add_obj_adds_no_object_where_it_would_not_hold(caption, parse, resources):
    assert not any(" and a" in t for t in _negatives("add_obj", caption, parse, resources))


def test_add_obj_leaves_pairs_that_face_each_other(parse, resources):
    texts = _negatives("add_obj", "Two dogs are nose to nose in the grass .", parse, resources)
    assert all(t.startswith("Two dogs") for t in texts), texts


@pytest.mark.parametrize(
    "caption, pattern",
    [
        # a verb after a clause of its own stays that clause's
        ("An old man stands while a crowd looks on .", r"^An? \w+ and an old man stand while a crowd looks on \.$"),
        # "goggles" is a noun here, so "is" is the subject's verb
        ("A swimmer wearing a hat and goggles is swimming .", r"^An? \w+ and a swimmer wearing a hat and goggles are swimming \.$"),
    ],
)
def test_add_obj_reads_which_verbs_are_the_subjects(caption, pattern, parse, resources):
    texts = {t for t in _negatives("add_obj", caption, parse, resources) if not t.startswith(caption[:10])}
    assert texts and all(re.match(pattern, t) for t in texts), texts


def test_plural_verb_inflects_verbs_made_of_nouns(resources):
    from negforge.generators.rules.agreement import plural_verb

    assert plural_verb("snowboards", resources) == "snowboard"  # not in the inflection table
    assert plural_verb("runs", resources) == "run" and plural_verb("is", resources) == "are"
    assert plural_verb("xqzs", resources) is None  # no word: no guess


def test_replace_obj_keeps_a_vehicle_in_its_medium(parse, resources):
    """A canoe is rowed through water: its stand-ins are boats, never a motorcycle or a bus."""
    from negforge.generators.rules.replace_obj import noun_candidates

    pool = {c.word for c in noun_candidates("canoe", resources)}
    assert {"kayak", "sailboat"} <= pool and not pool & {"motorcycle", "bus", "bike", "car", "airplane"}
    texts = _negatives("replace_obj", "Two people are rowing a canoe through the water .", parse, resources)
    assert not any(w in t for t in texts for w in ("motorcycle", "bus", "bike", "car ")), texts


@pytest.mark.parametrize(
    "caption, word",
    [
        ("Two boys play on a bed in a room with wood paneling .", "midair"),  # a state, not a place
        ("A wheelchair bound person receiving a tip from a passerby .", "bound"),  # half of an adjective
    ],
)
def test_replace_obj_leaves_states_and_adjective_halves(caption, word, parse, resources):
    texts = _negatives("replace_obj", caption, parse, resources)
    if word == "bound":
        assert not any(t.endswith(caption.split(" bound ", 1)[1]) and not t.startswith("A wheelchair") for t in texts)
    else:
        assert not any(word in t for t in texts), texts


@pytest.mark.parametrize(
    "caption, pattern",
    [
        ("Two children read in bed .", r"\bin \w+ bed\b"),  # an idiom: no "in purple bed"
        ("Two children are playing flag football together .", r"\bplaying \w+ flag\b"),  # a game
    ],
)
def test_add_att_leaves_idioms_and_games(caption, pattern, parse, resources):
    texts = _negatives("add_att", caption, parse, resources)
    assert texts and not any(re.search(pattern, t) for t in texts), texts


def test_add_att_adds_no_color_to_water(resources):
    import negforge.generators.rules.add as add
    from negforge.schemas import SceneObject

    colors = set(resources.vocab["adjective_groups"]["color"])
    wave = SceneObject(text="wave", lemma="wave", start=0, end=4, count=1)
    # breaking water is white, a wave green or blue with the light: never clearly false
    assert not colors & set(dict(add._attribute_options(wave, resources)))
    boat = SceneObject(text="boat", lemma="boat", start=0, end=4, count=1)
    assert colors & set(dict(add._attribute_options(boat, resources)))  # a made thing takes any


@pytest.mark.parametrize(
    "caption",
    [
        "A man walks toward a policeman standing in a crosswalk on a city street .",
        "a small white dog catching a stick on the shore at the beach .",
    ],
)
def test_swap_obj_leaves_nested_places(caption, parse, resources):
    """One place holds the other: "on the beach at the shore" reads true as well."""
    texts = _negatives("swap_obj", caption, parse, resources)
    assert not texts, texts


def test_replace_rel_keeps_verbs_that_govern_a_bare_infinitive(parse, resources):
    """ "watching another man do a pose" -> "pulling another man do a pose" is no sentence."""
    texts = _negatives("replace_rel", "a man watching another man do a kissing pose", parse, resources)
    assert not any("watching" not in t for t in texts), texts
    assert _negatives("replace_rel", "A girl pets a dog near a tree .", parse, resources)  # no bare verb: edited


def test_replace_obj_changes_the_kind_of_way(resources):
    """ "a snowy road" -> "a snowy track", "a trail" -> "a path": a caption could name either so."""
    from negforge.generators.rules.replace_obj import noun_candidates

    for noun, same in (("road", {"street", "highway", "track", "dirt track"}), ("trail", {"path", "pathway", "track"})):
        pool = {c.word for c in noun_candidates(noun, resources)}
        assert pool and not pool & same, (noun, sorted(pool & same))
    assert "sidewalk" in {c.word for c in noun_candidates("road", resources)}  # another kind: still false


@pytest.mark.parametrize(
    "caption, verb, same",
    [
        ("A person aims a camera at a crowd .", "aims", {"holds", "uses", "points"}),
        ("A man climbs up a cliff face .", "climbs", {"hikes", "scrambles"}),
        ("A man navigating a watercraft under cloudy skies .", "navigating", {"driving", "steering", "sailing"}),
    ],
)
def test_replace_rel_never_swaps_verbs_of_one_sense(caption, verb, same, parse, resources):
    """ "aims a camera" is "holds" it; "climbs up a cliff face" may be "hikes up": still true."""
    texts = _negatives("replace_rel", caption, parse, resources)
    assert not any(t.replace(caption.split(verb)[0], "", 1).split(" ", 1)[0] in same for t in texts), texts


def test_swap_att_moves_a_color_listed_with_a_size(parse, resources):
    """ "a large , white tube": the comma lists two kinds of adjective, the color is whole."""
    caption = "A young boy dressed in a black hoodie crawling through a large , white tube ."
    texts = _negatives("swap_att", caption, parse, resources)
    assert "A young boy dressed in a white hoodie crawling through a large , black tube ." in texts, texts
    # "red , blue pants": two colors listed are one pattern, never split
    assert not _negatives("swap_att", "A man in a white shirt and red , blue pants .", parse, resources)


@pytest.mark.parametrize(
    ("caption", "want", "never"),
    [
        # WordNet calls "teenage" similar to "young": a photo of a young boy shows no teenager
        ("A young boy is playing soccer .", "A teenage boy is playing soccer .", ("A little boy", "A small boy")),
        # WordNet's "colored" sense makes every color a "colorful" one; only no color is false
        ("A man in a colorful outfit stands by a wall .", "A man in a black outfit stands by a wall .", ("red outfit", "striped outfit", "blue outfit")),
        # WordNet puts "redheaded" in blond's cluster; hair colors a photo tells apart
        ("A blonde woman is sitting on a bench .", "A redheaded woman is sitting on a bench .", ("golden woman", "yellow woman")),
    ],
)
def test_replace_att_values_wordnet_clusters_but_a_photo_tells_apart(caption, want, never, parse, resources):
    texts = _negatives("replace_att", caption, parse, resources)
    assert want in texts, sorted(texts)
    assert not any(bad in t for t in texts for bad in never), sorted(texts)


def test_replace_att_edits_a_persons_age_only_when_nothing_else_is_editable(parse, resources):
    spec = registry.select(["replace_att"])[0]
    caption = "A young boy in a red shirt runs ."
    graph = parse(caption)
    for seed in SEEDS:
        texts = [n.text for n in spec.fn(caption, graph, random.Random(seed), resources)]
        assert texts and "teenage" not in texts[0], texts  # the shirt's color first, the age last
    caption = "A redheaded boy runs ."
    graph = parse(caption)
    for seed in SEEDS:  # one negative, not two spellings of it
        texts = {n.text for n in spec.fn(caption, graph, random.Random(seed), resources)}
        assert texts and not ({"A blond boy runs .", "A blonde boy runs ."} <= texts), sorted(texts)


def test_swap_att_moves_a_color_with_its_shade(parse, resources):
    texts = _negatives("swap_att", "A child in a bright blue sweatshirt plays with a red wagon .", parse, resources)
    assert "A child in a red sweatshirt plays with a bright blue wagon ." in texts, sorted(texts)
    # the shade never moves alone, nor the color without it
    assert not any("bright red" in t or "bright wagon" in t or "blue sweatshirt" in t for t in texts), sorted(texts)


def test_add_obj_joins_plural_people_of_another_gender_or_age(parse, resources):
    texts = _negatives("add_obj", "Four shirtless men hike up a canyon .", parse, resources)
    assert any(t.startswith(("A woman and four shirtless men hike", "A girl and four")) for t in texts), sorted(texts)
    texts = _negatives("add_obj", "Three kids run on the beach .", parse, resources)
    assert not any(t.startswith(("A boy and", "A girl and", "A child and", "A kid and")) for t in texts), sorted(texts)


def test_add_obj_a_third_in_a_list_keeps_the_captions_comma_spacing(parse, resources):
    tokenised = _negatives("add_obj", "Two women and a man sit on a bench .", parse, resources)
    assert tokenised and all(" , two women" in t for t in tokenised if "two women and a man" in t), sorted(tokenised)
    plain = _negatives("add_obj", "Two women and a man sit on a bench.", parse, resources)
    assert plain and all(", two women" in t and " , " not in t for t in plain if "two women and a man" in t), sorted(plain)


@pytest.mark.parametrize(
    ("caption", "want", "never"),
    [
        # a person listed with a person takes any other person captions never listed with it
        ("Mother and daughter play in the waves .", None, ("Boy and daughter", "Child and daughter", "Daughter and daughter")),
        ("A woman and child fly through the air .", "A man and child fly through the air .", ("A boy and child", "A girl and child", "A kid and child")),
        ("A group of girls and boys practice on a stage .", None, ("girls and girls", "boys and boys", "kids and boys", "children and boys")),
    ],
)
def test_replace_obj_a_person_listed_with_a_person(caption, want, never, parse, resources):
    texts = _negatives("replace_obj", caption, parse, resources)
    assert want is None or want in texts, sorted(texts)
    assert not any(bad in t for t in texts for bad in never), sorted(texts)


def test_replace_rel_keeps_the_verb_of_a_still_thing(parse, resources):
    # held-out read, seed 60: "benches that overlook the water" -> "benches that drink the water"
    caption = "A man and a woman are walking past benches that overlook the water ."
    texts = _negatives("replace_rel", caption, parse, resources)
    assert all("benches that overlook the water" in t for t in texts), sorted(texts)
    # a participle after a place is the doer's before it: still replaced
    texts = _negatives("replace_rel", "Two boys in a field kicking a soccer ball .", parse, resources)
    assert any("kicking" not in t and "in a field" in t for t in texts), sorted(texts)


def test_replace_rel_backs_off_to_the_preposition_for_a_ground_seen_once(parse, resources):
    # "lawn" was counted once after "walk across": no less evidence than never
    texts = _negatives("replace_rel", "A dog runs across the lawn .", parse, resources)
    assert "A dog walks across the lawn ." in texts, sorted(texts)


def test_add_att_draws_one_adjective_per_look(parse, resources):
    spec = registry.select(["add_att"])[0]
    caption = "A boy points at a sign ."
    graph = parse(caption)
    for seed in SEEDS:
        texts = {n.text for n in spec.fn(caption, graph, random.Random(seed), resources)}
        assert not ({"A blond boy points at a sign .", "A blonde boy points at a sign ."} <= texts), sorted(texts)


def test_swap_obj_objects_keep_their_own_number(parse, resources):
    # held-out reads, seeds 58, 61, 62: "plays the drums ... plays the guitar" became "plays the
    # guitars ... plays the drum"; after "the" each object keeps its own number
    caption = "On the street a man sits and plays the drums while a man standing beside him plays the guitar ."
    texts = _negatives("swap_obj", caption, parse, resources)
    assert "On the street a man sits and plays the guitar while a man standing beside him plays the drums ." in texts, sorted(texts)
    assert not any("the guitars" in t or "the drum " in t for t in texts), sorted(texts)
    # a subject still takes the other's number with its verb: "a dog chases the cats" -> "a cat chases the dogs"
    assert "A cat chases the dogs ." in _negatives("swap_obj", "A dog chases the cats .", parse, resources)
