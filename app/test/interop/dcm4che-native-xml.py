#!/usr/bin/python3
"""Reads a PS3.19 Native DICOM Model document on stdin, prints it as DICOM JSON (PS3.18 F.2).

dcm4che's stowrs asks for application/dicom+xml replies. The client test turns
them into DICOM JSON with a real XML parser so the shared reply checks apply.
Only what a Store Instances Response holds is supported (SQ, UI, UR, US, ...);
anything else is an error rather than a guess.
"""
import json
import sys
import xml.etree.ElementTree as ET

INTEGER_VRS = {"US", "UL", "SS", "SL", "UV", "SV", "IS"}
DECIMAL_VRS = {"FL", "FD", "DS"}
TEXT_VRS = {"AE", "AS", "CS", "DA", "DT", "LO", "LT", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}


def local(tag):
    """Element name without its namespace ({uri}name -> name)."""
    return tag.rsplit("}", 1)[-1]


def numbered(parent, name):
    children = [c for c in parent if local(c.tag) == name]
    return sorted(children, key=lambda c: int(c.get("number", "0")))


def value_of(vr, text):
    if vr in INTEGER_VRS:
        return int(text)
    if vr in DECIMAL_VRS:
        return float(text)
    return text


def data_set(element):
    result = {}
    for child in element:
        if local(child.tag) != "DicomAttribute":
            raise ValueError(f"unexpected <{local(child.tag)}> in a data set")
        tag = child.get("tag", "").upper()
        vr = child.get("vr", "")
        entry = {"vr": vr}
        if vr == "SQ":
            values = [data_set(item) for item in numbered(child, "Item")]
        elif vr in INTEGER_VRS | DECIMAL_VRS | TEXT_VRS:
            values = [value_of(vr, v.text or "") for v in numbered(child, "Value")]
        else:
            raise ValueError(f"VR {vr} of {tag} is not supported by this reader")
        if values:
            entry["Value"] = values
        result[tag] = entry
    return result


def main():
    root = ET.fromstring(sys.stdin.buffer.read())
    if local(root.tag) != "NativeDicomModel":
        raise SystemExit(f"root element is <{local(root.tag)}>, not <NativeDicomModel>")
    json.dump(data_set(root), sys.stdout)


if __name__ == "__main__":
    main()
