package resource

// Diagnostic codes produced while reading configuration files. They are
// stable so that tooling and tests can match on them rather than on
// message text.
const (
	// CodeRead: a file or directory could not be read.
	CodeRead = "MG0100"
	// CodeSyntax: the YAML or JSON is malformed.
	CodeSyntax = "MG0101"
	// CodeNotObject: a document is not a mapping, or lacks apiVersion/kind.
	CodeNotObject = "MG0102"
	// CodeUnsupportedVersion: a known kind with an apiVersion meshgate does
	// not implement.
	CodeUnsupportedVersion = "MG0103"
	// CodeUnknownField: a field that the schema does not define.
	CodeUnknownField = "MG0104"
	// CodeInvalidValue: a value of the wrong type, a bad enum name, a
	// malformed duration and the like.
	CodeInvalidValue = "MG0105"
	// CodeDuplicateKey: the same key twice in one mapping, or two members
	// of the same oneof.
	CodeDuplicateKey = "MG0106"
	// CodeMissingField: a field the object cannot exist without, such as
	// metadata.name.
	CodeMissingField = "MG0107"
	// CodeDuplicateObject: two objects with the same kind, namespace and
	// name.
	CodeDuplicateObject = "MG0108"
	// CodeTooComplex: a document nests too deeply or expands too many
	// aliases to be processed safely.
	CodeTooComplex = "MG0109"
	// CodeRemovedField (warning): a field Istio no longer has; it is
	// ignored and the object still loads.
	CodeRemovedField = "MG0110"
)
