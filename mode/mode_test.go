package mode

import "testing"

func TestNamespaceAndWorkload(t *testing.T) {
	type in struct {
		def           Mode
		label         string
		hasLabel      bool
		annotation    string
		hasAnnotation bool
	}
	tests := map[string]struct {
		in      in
		want    Mode
		wantErr bool
	}{
		"no label: the default":                      {in{def: DryRun}, DryRun, false},
		"the label wins over the default":            {in{def: DryRun, label: "enforce", hasLabel: true}, Enforce, false},
		"a label that is no mode is dry-run":         {in{def: Enforce, label: "enforced", hasLabel: true}, DryRun, true},
		"an empty label is no mode":                  {in{def: Off, label: "", hasLabel: true}, DryRun, true},
		"spaces around a value are ignored":          {in{def: Off, label: " enforce ", hasLabel: true}, Enforce, false},
		"the annotation lowers enforce to dry-run":   {in{def: Enforce, annotation: "dry-run", hasAnnotation: true}, DryRun, false},
		"the annotation lowers to off":               {in{def: DryRun, annotation: "off", hasAnnotation: true}, Off, false},
		"the annotation never raises dry-run":        {in{def: DryRun, annotation: "enforce", hasAnnotation: true}, DryRun, false},
		"the annotation never raises off":            {in{def: Off, annotation: "enforce", hasAnnotation: true}, Off, false},
		"a bad annotation lowers to dry-run at most": {in{def: Enforce, annotation: "yes", hasAnnotation: true}, DryRun, true},
		"a bad annotation keeps off":                 {in{def: Off, annotation: "yes", hasAnnotation: true}, Off, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ns, err1 := Namespace(tt.in.def, tt.in.label, tt.in.hasLabel)
			got, err2 := Workload(ns, tt.in.annotation, tt.in.hasAnnotation)
			if got != tt.want || (err1 != nil || err2 != nil) != tt.wantErr {
				t.Errorf("got %q (errors %v, %v), want %q (error %v)", got, err1, err2, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseAndFlag(t *testing.T) {
	var m Mode
	if err := m.Set("dry-run"); err != nil || m != DryRun {
		t.Errorf("Set(dry-run) = %q, %v", m, err)
	}
	if err := m.Set("on"); err == nil || m != DryRun {
		t.Errorf("Set(on) = %q, %v: want an error and the value kept", m, err)
	}
	if Mode("").Valid() || !Off.Valid() {
		t.Error("Valid: the zero value is no mode, off is one")
	}
	if Min(Enforce, Off) != Off || Min(DryRun, Enforce) != DryRun {
		t.Error("Min is the less invasive mode")
	}
}
