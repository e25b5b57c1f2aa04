mod estimate_oracle;
mod estimate_props;
