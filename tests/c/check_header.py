#!/usr/bin/env python3
"""Compares the hand-written include/focal_loss.h with a header cbindgen generated from
src/capi.rs: the same functions (name, return type, parameter types and names, in order), the
same structs (field types and names, in order: the same C layout), the same constants (name and
value). Exits 1 and lists every difference otherwise.

usage: check_header.py HAND_WRITTEN.h GENERATED.h
"""
import re
import sys


def strip(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return text


def norm_type(t):
    t = re.sub(r"\bstruct\s+", "", t)
    t = re.sub(r"\s*\*\s*", "*", t)
    return " ".join(t.split())


def split_decl(d):
    """'const float *logits' -> ('const float*', 'logits'); 'uint32_t words[13]' ->
    ('uint32_t[13]', 'words')."""
    d = " ".join(d.split())
    m = re.match(r"^(.*?)([A-Za-z_]\w*)\s*((?:\[\s*\w+\s*\])*)$", d)
    if not m:
        raise ValueError("cannot parse declaration %r" % d)
    return norm_type(m.group(1)) + m.group(3).replace(" ", ""), m.group(2)


def parse(path):
    raw = open(path, encoding="utf-8").read()
    text = strip(raw)
    consts, structs, funcs = {}, {}, {}
    # #define NAME VALUE (integer constants only; include guards have no value)
    for name, value in re.findall(r"^\s*#\s*define\s+(FOCAL_\w+)\s+(-?\d+)\s*$", text, re.M):
        consts[name] = int(value)
    text = re.sub(r"^\s*#[^\n]*$", " ", text, flags=re.M)
    text = text.replace('extern "C" {', " ")
    # enum NAME { A = 1, ... };
    for body in re.findall(r"\benum\s+\w+\s*\{(.*?)\}\s*;", text, re.S):
        for item in body.split(","):
            item = item.strip()
            if item:
                name, value = (s.strip() for s in item.split("="))
                consts[name] = int(value)
    text = re.sub(r"\benum\s+\w+\s*\{.*?\}\s*;", " ", text, flags=re.S)
    # typedef struct NAME { fields } NAME;
    for name, body, alias in re.findall(
        r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S
    ):
        if name != alias:
            raise ValueError("%s: typedef %s of struct %s" % (path, alias, name))
        structs[name] = [split_decl(f) for f in body.split(";") if f.strip()]
    text = re.sub(r"typedef\s+struct\s+\w+\s*\{.*?\}\s*\w+\s*;", " ", text, flags=re.S)
    # prototypes: RET NAME(PARAMS);
    proto = r"([^;{}()]+)\(([^()]*)\)\s*;"
    for ret_name, params in re.findall(proto, text):
        ret, name = split_decl(ret_name)
        ps = [p.strip() for p in params.split(",")]
        ps = [] if ps == ["void"] else [split_decl(p) for p in ps]
        if name in funcs:
            raise ValueError("%s: %s declared twice" % (path, name))
        funcs[name] = (ret, ps)
    text = re.sub(proto, " ", text)
    left = " ".join(re.sub(r"\}", " ", text).split())
    if left:
        raise ValueError("%s: unparsed text: %r" % (path, left[:200]))
    keep = lambda d: {k: v for k, v in d.items() if k.lower().startswith("focal_")}
    return keep(consts), keep(structs), keep(funcs)


def compare(kind, hand, gen, show):
    problems = []
    for name in sorted(set(hand) | set(gen)):
        if name not in gen:
            problems.append("%s %s: in the header, not in the Rust code" % (kind, name))
        elif name not in hand:
            problems.append("%s %s: in the Rust code, not in the header" % (kind, name))
        elif hand[name] != gen[name]:
            problems.append(
                "%s %s differs:\n    header: %s\n    Rust:   %s"
                % (kind, name, show(hand[name]), show(gen[name]))
            )
    return problems


def main():
    hand, gen = parse(sys.argv[1]), parse(sys.argv[2])
    fn = lambda f: "%s (%s)" % (f[0], ", ".join("%s %s" % p for p in f[1]))
    st = lambda s: "{ %s }" % "; ".join("%s %s" % p for p in s)
    problems = (
        compare("constant", hand[0], gen[0], str)
        + compare("struct", hand[1], gen[1], st)
        + compare("function", hand[2], gen[2], fn)
    )
    for p in problems:
        print("header check: " + p)
    counts = tuple(len(x) for x in hand)
    if problems:
        print("header check: FAILED, %d differences" % len(problems))
        return 1
    print(
        "header check: ok, %d constants, %d structs, %d functions match the Rust definitions"
        % counts
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
