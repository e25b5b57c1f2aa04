mod synth;
