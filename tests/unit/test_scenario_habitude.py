"""koji-habitude 0.9's vocabulary in scenarios, without Koji: what each key and shorthand loads as.

tests/integration/test_habitude.py checks the same against `koji-habitude apply` on a real hub.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_boxkoji.scenario.loader import ScenarioError, load


def scenario(tmp_path: Path, text: str, name: str = "s.yaml"):
    (tmp_path / name).write_text(textwrap.dedent(text))
    return load([name], near=tmp_path)


def test_tag_keys_as_koji_habitude_writes_them(tmp_path):
    s = scenario(
        tmp_path,
        """
        type: external-repo
        name: debian
        url: http://deb.debian.org/debian/
        ---
        type: external-repo
        name: debian-security
        url: http://deb.debian.org/debian-security/
        ---
        type: tag
        name: base
        ---
        type: tag
        name: build
        locked: true
        description: koji-habitude accepts a description on every object
        inheritance: base
        external-repos:
          - debian
          - {name: debian-security, merge-mode: bare, arches: [x86_64]}
        blocked-extras: [mock.new_chroot]
        exact-extras: true
        exact-groups: true
        exact-packages: true
        packages:
          - bash
          - {name: zsh, owner: kojiadmin}
          - {name: bash, blocked: true}
        """,
    )
    tag = s.get("tag", "build")
    assert tag.lock and tag.blocked_extras == ["mock.new_chroot"]
    assert [(x.name, x.priority) for x in tag.inheritance] == [("base", 0)]
    links = [(x.name, x.priority, x.merge_mode, x.arches) for x in tag.external_repo_links()]
    assert links == [("debian", 0, "koji", None), ("debian-security", 10, "bare", ["x86_64"])]
    # A package listed again overrides the earlier entry, in the earlier entry's place.
    assert [(p.name, p.blocked) for p in tag.packages] == [("bash", True), ("zsh", False)]


def test_priorities_left_out_follow_koji_habitude(tmp_path):
    text = "type: tag\nname: t\ninheritance:\n" + "".join(
        f"  - {item}\n" for item in ["a", "{name: b, priority: 33}", "c", "{name: d}"]
    )
    for parent in "abcd":
        text += f"---\ntype: tag\nname: {parent}\n"
    s = scenario(tmp_path, text)
    assert [(x.name, x.priority) for x in s.get("tag", "t").inheritance] == [
        ("a", 0),
        ("b", 33),
        ("c", 40),
        ("d", 50),
    ]


def test_lock_and_locked_mean_the_same(tmp_path):
    s = scenario(tmp_path, "type: tag\nname: a\nlock: true\n---\ntype: tag\nname: b\nlocked: true\n")
    assert s.get("tag", "a").lock and s.get("tag", "b").lock


@pytest.mark.parametrize(
    "groups",
    [
        "groups: {build: [bash, coreutils]}",
        "groups: {build: {packages: [bash, coreutils]}}",
        "groups: [{name: build, packages: [bash, coreutils]}]",
    ],
)
def test_build_groups_in_every_form(tmp_path, groups):
    s = scenario(tmp_path, f"type: tag\nname: t\n{groups}\n")
    group = s.get("tag", "t").groups[0]
    assert (group.name, [p.name for p in group.packages]) == ("build", ["bash", "coreutils"])


def test_members_hosts_build_type_and_leading_dots(tmp_path):
    s = scenario(
        tmp_path,
        """
        type: user
        name: packager
        exact-permissions: true
        ---
        type: group
        name: packagers
        members: [packager]
        exact-members: true
        ---
        type: host
        name: builder1
        ---
        type: channel
        name: image
        hosts: [builder1]
        ---
        type: build-type
        name: container
        ---
        type: archive-type
        name: oci
        extensions: [.oci.tar, oci.tar]
        """,
    )
    assert s.get("group", "packagers").members == ["packager"]
    assert s.get("channel", "image").hosts == ["builder1"]
    assert s.get("btype", "container") is not None  # one kind, two names
    assert s.get("archive-type", "oci").extensions == ["oci.tar"]


def test_inheritance_cycles_are_allowed_as_in_koji(tmp_path):
    s = scenario(tmp_path, "type: tag\nname: a\ninheritance: b\n---\ntype: tag\nname: b\ninheritance: a\n")
    assert len(s.of("tag")) == 2


def test_a_package_list_filter_matches_names_literally(tmp_path):
    text = "type: tag\nname: p\n---\ntype: tag\nname: t\ninheritance:\n  - {name: p, pkg-filter: [gtk+, python3.11-x]}\n"
    link = scenario(tmp_path, text).get("tag", "t").inheritance[0]
    assert link.pkg_filter == r"^(gtk\+|python3.11-x)$"


def test_templates_defaults_files_deferred_calls_and_templates_made_by_templates(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "target.j2").write_text(
        "type: target\nname: {{ name }}\nbuild-tag: {{ name }}-build\ndest-tag: {{ name }}-build\n"
    )
    s = scenario(
        tmp_path,
        """
        type: product            # a call before its template
        name: app
        ---
        type: template
        name: product
        defaults: {arches: [x86_64]}
        content: |
          ---
          type: tag
          name: {{ name }}-build
          arches: [{{ arches | join(", ") }}]
          ---
          type: template
          name: {{ name }}-target
          file: parts/target.j2
          ---
          type: {{ name }}-target
          name: {{ name }}
        """,
    )
    assert s.get("tag", "app-build").arches == ["x86_64"]
    assert s.get("target", "app").build_tag == "app-build"


def test_multi_documents_share_anchors(tmp_path):
    s = scenario(
        tmp_path,
        """
        type: multi
        x-arches: &arches [x86_64, aarch64]
        _note: keys with _ or x- are not documents
        empty:
        base:
          type: tag
          arches: *arches
        other:
          type: tag
          name: renamed
          arches: *arches
        """,
    )
    assert sorted(name for _, name in s.objects) == ["base", "renamed"]
    assert s.get("tag", "renamed").arches == ["x86_64", "aarch64"]


MODEL = """
type: template
name: packager
model:
  name: who
  fields:
    name: {type: string, validation: {regex: "^[a-z]+$"}}
    level: {type: int, default: 1, validation: {min-value: 1, max-value: 3}}
    kind: {type: enum, validation: {enum: [human, robot]}, required: false}
content: |
  type: user
  name: {{ who.name }}
  enabled: {{ "true" if who.level > 1 else "false" }}
  description: {{ _data.name }}
---
"""


def test_a_template_model_checks_and_converts_the_call(tmp_path):
    s = scenario(tmp_path, MODEL + "type: packager\nname: alice\nlevel: '2'\n")
    assert s.get("user", "alice").enabled is True


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("name: Alice", "packager[Alice].name: field name must match pattern ^[a-z]+$"),
        ("name: bob\nlevel: 4", "packager[bob].level: field level must be less than or equal to 3.0"),
        ("name: bob\nkind: alien", "packager[bob].kind: input should be 'human' or 'robot'"),
    ],
)
def test_a_template_model_refuses_the_call_at_its_line(tmp_path, call, message):
    with pytest.raises(ScenarioError) as e:
        scenario(tmp_path, MODEL + "type: packager\n" + call + "\n")
    assert str(e.value) == f"s.yaml:16: {message}"  # the call's line


def test_a_directory_stands_for_its_files_in_order(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "b.yml").write_text("type: product\nname: app\n")
    (data / "a.yaml").write_text(
        "type: template\nname: product\ncontent: 'type: tag\n\n  name: {{ name }}'\n"
    )
    (data / "notes.txt").write_text("not a scenario")
    assert list(load(["data"], near=tmp_path).objects) == [("tag", "app")]
