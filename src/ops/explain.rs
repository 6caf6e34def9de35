//! `ekstack explain`: what each resource is for, its share of the cost, and the changes that save the most.
