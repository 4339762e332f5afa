/// The IR format version written as `"ezir"`; the runtime accepts only this.
public let ezirVersion = 1
