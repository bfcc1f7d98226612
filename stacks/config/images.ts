// images: prebuilt container images to run instead of building them from this repository.
import { defineBlock } from "./block";

const IMAGE_REF = /^[a-z0-9][a-z0-9._\-/:@]*$/i;

export const imagesBlock = defineBlock({
  keys: ["images"],
  read(r): {
    /** Image references for app and/or nginx; unset: built from this repository. @default {} */
    images: { app?: string; nginx?: string };
  } {
    const key = "images";
    const fields = r.object(key, r.raw(key), `{ app: 123456789012.dkr.ecr.eu-central-1.amazonaws.com/stowrs-app:1.0.0 }`);
    if (fields === undefined) return { images: {} };
    r.unknownFields(key, fields, ["app", "nginx"]);
    const images: { app?: string; nginx?: string } = {};
    for (const name of ["app", "nginx"] as const) {
      if (fields[name] === undefined) continue;
      const ref = r.text(key, name, fields[name], "");
      if (!IMAGE_REF.test(ref)) r.report(key, `${name} "${ref}" is not an image reference`);
      else images[name] = ref;
    }
    return { images };
  },
});
