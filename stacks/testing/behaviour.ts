// The containers' behaviour a stack gets from the configuration defaults, for component tests.
import { parseConfig } from "../config";
import { containerBehaviour } from "../containers";
import { configMap } from "./harness";

export const DEFAULT_BEHAVIOUR = containerBehaviour(parseConfig(configMap()));
